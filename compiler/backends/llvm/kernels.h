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
    SN_EPI_QUANT,     /* Q(k, B) */
    SN_EPI_THRESHOLD, /* threshold units: v -> count of u < U with v >= theta[c][u], the
                         thresholds packed [Cb][U][vl] (+inf in padded lanes, see
                         sn_prep_theta) and passed in ptrs[5]; only the direct convolution
                         kernels (sn_gen_conv, sn_gen_conv_dp) implement it, as the last op */
} sn_epi_kind;

#define SN_MAX_EPI 6
typedef struct sn_epi_op {
    sn_epi_kind kind;
    sn_quant_params q;
    int U; /* SN_EPI_THRESHOLD: units per channel */
} sn_epi_op;

typedef struct sn_epilogue {
    int nops;
    sn_epi_op ops[SN_MAX_EPI];
    int pool; /* 0 none, 1 max, 2 avg (window == stride == pk, unpadded) */
    int pk;
    /* backward masks (fused relu/quant backward): the result is kept where the saved
     * activation m (an extra input laid out like the output) satisfies mask 1: m > 0,
     * mask 2: 0 < m < mask_B; else 0 */
    int mask;
    float mask_B;
    /* round the stored value to bf16 (after pooling and masking): the output feeds bf16
     * convolutions or linear layers (--precision bf16) */
    int round_bf16;
    /* store u8 instead of float (int8 convolutions feeding int8 convolutions; only the
     * dot-product kernels implement it): q = clamp(roundeven(v * store_mul) + store_zero,
     * store_zero ? 1 : 0, 255) at the same element offsets, one byte each; the halo holds
     * store_zero (the quantized 0) */
    int store_u8;
    float store_mul;
    int store_zero;
} sn_epilogue;

/* Applies the backward mask to v given the saved activation m. */
LLVMValueRef sn_gen_mask(sn_irb *k, const sn_epilogue *e, LLVMValueRef v, LLVMValueRef m);

/* Applies the epilogue ops (not the pool) to a vector. */
LLVMValueRef sn_gen_epilogue(sn_irb *k, const sn_epilogue *e, LLVMValueRef v);
/* The same for a vector of one output-channel block whose packed thresholds ([U][vl]
 * floats) start at theta (needed when the epilogue has an SN_EPI_THRESHOLD op). */
LLVMValueRef sn_gen_epilogue_at(sn_irb *k, const sn_epilogue *e, LLVMValueRef v,
                                LLVMValueRef theta);
/* The units of the epilogue's SN_EPI_THRESHOLD op, or 0 when it has none. */
int sn_epi_threshold_units(const sn_epilogue *e);

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
/* The tile search behind it (and behind sn_conv_dp_choose_tile): the tile of at most budget
 * accumulators (vl channels each) with the most work per tile; fit, when given, returns the
 * image count <= tn whose tile of tr rows is feasible, or 0 when none is. Sets d->tn..tq and
 * returns 0, or -1 when no tile qualifies (d unchanged). */
typedef int (*sn_tile_fit)(const void *arg, int tn, int tr);
int sn_conv_search_tile(sn_conv_desc *d, int vl, int budget, double row_tie, sn_tile_fit fit,
                        const void *arg);
/* The multiply-adds the direct kernel executes (without the padding's on small maps). */
int64_t sn_conv_executed_macs(const sn_conv_desc *d);
int64_t sn_conv_tasks(const sn_conv_desc *d);
/* ptrs[5]: packed thresholds when the epilogue has SN_EPI_THRESHOLD. */
void sn_gen_conv(sn_irb *k, const sn_conv_desc *d);
/* The frame both direct convolution generators (sn_gen_conv, sn_gen_conv_dp) share: the
 * register-tile variants, the task loop over (image group, row tile, channel group) with
 * images innermost, and the dispatch of each task to its variant. Variant [a][bq][c][e]
 * has nv[a] images, rv[bq] rows, wv[c] columns and qv[e] channel blocks; index 0 is the
 * full tile, 1 the tail (0 when the extent divides evenly, and then no such variant). */
typedef LLVMValueRef (*sn_conv_tile_fn)(sn_irb *k, const sn_conv_desc *d, int nn, int rr, int ww,
                                        int qq);
typedef struct sn_conv_frame {
    int Ob, NT, RT, OCG, pk;
    int nv[2], rv[2], wv[2], qv[2];
    LLVMValueRef tiles[2][2][2][2];
    /* the current task (between sn_conv_task_begin and sn_conv_task_end) */
    irb_loop lt;
    LLVMValueRef n0, r0, ob0, orow0; /* first image, conv row, channel block, output row */
    LLVMValueRef last_n, last_r, last_q, first_r;
    /* element offsets of the task's origin: its first input row (image n0, the row above
     * conv row r0 by the padding, in the input layout), its output image (n0, block ob0)
     * and that image's first output row, its bias and its thresholds ([U][vl] per block) */
    LLVMValueRef x_off, y_img_off, y_row_off, b_off, th_off;
} sn_conv_frame;
/* Generates the tile variants with `tile` (vl output channels per block; NULL: none, the
 * caller makes its tiles itself). */
void sn_conv_frame_init(sn_irb *k, const sn_conv_desc *d, int vl, sn_conv_tile_fn tile,
                        sn_conv_frame *f);
/* Opens the loop over the kernel's tasks [a_lo, a_hi) and computes the task's origin. */
void sn_conv_task_begin(sn_irb *k, const sn_conv_desc *d, int vl, sn_conv_frame *f);
void sn_conv_task_end(sn_irb *k, sn_conv_frame *f);
/* Opens the block that runs when the task's tile is variant (a, bq, *, e); NULL when that
 * variant does not exist (then skip it). Close it with sn_conv_variant_end. */
LLVMBasicBlockRef sn_conv_variant_begin(sn_irb *k, const sn_conv_frame *f, int a, int bq, int e);
/* Zeroes the output halo of the variant's rows (yimg: the output at image n0, block ob0)
 * and closes its block. */
void sn_conv_variant_end(sn_irb *k, const sn_conv_desc *d, const sn_conv_frame *f,
                         LLVMValueRef yimg, int a, int bq, int e, LLVMBasicBlockRef cont);
/* The column variant (0 full, 1 tail) of the tile that starts at output column col. */
int sn_conv_col_variant(const sn_conv_desc *d, int col);
/* Starts a tile function `name`(params[0..n)) -> void, internal, its first `noalias`
 * pointer parameters marked noalias; t becomes a builder state positioned in its entry. */
LLVMValueRef sn_conv_tile_begin(const sn_irb *k, sn_irb *t, const char *name, LLVMTypeRef *params,
                                unsigned n, unsigned noalias);
/* Ends a tile: for each output value of the nn x rr x ww x qq tile (its sum as a float
 * vector, sum(t, acc[index], q, sum_ctx) with index ((i*rr + r)*ww + c)*qq + q, read where
 * it is used so the accumulators stay in registers until then), adds the bias (b: [qq*vl]
 * floats), applies the epilogue (thresholds from th, [qq][U][vl]), pools, masks (against
 * mask, the output's layout, when the epilogue masks), rounds (round_bf16) and stores at y;
 * then returns from the function. */
typedef LLVMValueRef (*sn_conv_sum_fn)(sn_irb *t, LLVMValueRef acc, int q, void *sum_ctx);
void sn_conv_tile_end(sn_irb *t, const sn_conv_desc *d, int vl, int nn, int rr, int ww, int qq,
                      const LLVMValueRef *acc, sn_conv_sum_fn sum, void *sum_ctx, LLVMValueRef b,
                      LLVMValueRef th, LLVMValueRef y, LLVMValueRef mask);

/* Zeroes the output halo of a tile's rows (shared by the direct kernels): images [0, nn)
 * and channel blocks [0, qq) from yimg (image n0, block ob0), output rows [row0,
 * row0+rows), plus the top/bottom halo rows when `first` / `last` (i1 values). */
void sn_gen_conv_zero_halo(sn_irb *k, const sn_conv_desc *d, LLVMValueRef yimg, int nn, int qq,
                           LLVMValueRef row0, int rows, LLVMValueRef first, LLVMValueRef last);

/* ---- dot-product convolutions (gen_conv_dp.c), AVX-512, 16 output channels per vector ----
 * The reduction runs on packed low-precision operands, several input channels per 32-bit
 * word: u8 x s8 (4 channels a word) summed exactly in int32 (vpdpbusd on AVX512-VNNI, or
 * the same products with vpmaddwd on AVX-512 without VNNI), or bf16 x bf16 (2 channels a
 * word) summed in fp32 (vdpbf16ps). Same buffers, layouts, tile, tasks and epilogue as
 * sn_gen_conv, the input a blocked map; the weights are packed [Ob][G][KH][KW][16][epw]
 * (G = ceil(C / epw) channel groups of epw = 4 or 2, zero-padded; sn_prep_conv_dp). Each
 * task first converts the input rows its tile reads (all channels, the halo included) into
 * a stack scratch laid out [tn][Cb][rows][Wp][16] elements, so a 32-bit load there is epw
 * consecutive channels of one pixel:
 *   u8:   q = clamp(roundeven(x * in_mul) + in_zero, in_zero ? 1 : 0, 255);
 *   bf16: round to nearest even.
 * u8 sums are exact (no int32 overflow below ~7000 input channels at 3x3); the result is
 * v = float(sum - comp[o]) * scale[o] with dequant (per-channel scale and zero-point
 * compensation from ptrs[4]: [Ob*16] floats, then [Ob*16] int32), else v = float(sum), then
 * bias, epilogue and pooling as the fp32 kernel. For spike counts (in_mul 1, in_zero 0) and
 * whole-number weights v equals the fp32 kernel's value bit for bit whenever its partial
 * sums stay below 2^24.
 * ptrs: [0] input (blocked), [1] packed weights, [2] bias [Ob*16], [3] output, [4] dequant
 * scales (dequant), [5] packed thresholds (SN_EPI_THRESHOLD). */
typedef enum sn_dp_kind { SN_DP_U8_VNNI = 0, SN_DP_U8_EMU, SN_DP_BF16 } sn_dp_kind;
typedef struct sn_conv_dp_desc {
    sn_conv_desc c;
    int kind;
    float in_mul; /* u8 input quantization (see above) */
    int in_zero;  /* u8 zero point: 0 (x >= 0) or 128 (signed x) */
    int dequant;
    int in_u8; /* the input is already a u8 map (a producer's epi.store_u8, quantized as this
                  kernel's input): read directly, no scratch */
} sn_conv_dp_desc;
#define SN_CONV_DP_SCRATCH_MAX (96 * 1024) /* bytes of stack scratch a task may use */
int sn_conv_dp_epw(int kind);              /* elements per 32-bit word: 4 (u8) or 2 (bf16) */
/* Picks the tile (fields tn, tr, tw, tq of d->c); returns 0, or -1 when no tile keeps the
 * scratch within SN_CONV_DP_SCRATCH_MAX (the layer then stays in float). */
int sn_conv_dp_choose_tile(sn_conv_dp_desc *d);
int64_t sn_conv_dp_scratch_bytes(const sn_conv_dp_desc *d);
int64_t sn_conv_dp_weight_bytes(int kind, int O, int C, int KH, int KW);
void sn_gen_conv_dp(sn_irb *k, const sn_conv_dp_desc *d);

/* ---- AMX convolutions (gen_conv_amx.c): stride 1, tdpbf16ps or tdpbusd ----
 * The same buffers as sn_gen_conv_dp, the weights packed by sn_prep_conv_q AMX_BF16 /
 * AMX_U8 ([Ob][KH*KW][ceil(C/chunk)][16][16][epw], one tile per tap and 64-byte chunk of
 * input channels). Tasks: (image, group of `rows` output rows), each computing every output
 * channel (pairs of 16-channel blocks) from one conversion of its input rows. */
typedef struct sn_conv_amx_desc {
    sn_conv_desc c; /* tile fields unused */
    int u8;         /* 0: bf16 x bf16 (tdpbf16ps), 1: u8 x s8 (tdpbusd) */
    float in_mul;   /* u8 input quantization, as sn_conv_dp_desc */
    int in_zero;
    int dequant;
    int rows; /* output rows per task (sn_conv_amx_choose) */
} sn_conv_amx_desc;
#define SN_CONV_AMX_SCRATCH_MAX (256 * 1024) /* bytes of stack a task may use */
int sn_conv_amx_applies(const sn_conv_desc *d);
/* Picks the rows per task; returns 0, or -1 when the layer cannot run on AMX. */
int sn_conv_amx_choose(sn_conv_amx_desc *a);
int64_t sn_conv_amx_scratch_bytes(const sn_conv_amx_desc *a);
int64_t sn_conv_amx_tasks(const sn_conv_amx_desc *a);
void sn_gen_conv_amx(sn_irb *k, const sn_conv_amx_desc *a);

/* Rounds a float vector to the nearest bf16 value (even on ties; NaN stays NaN), as float. */
LLVMValueRef sn_gen_round_bf16(sn_irb *k, LLVMValueRef v);
/* The value a kernel stores: v rounded to bf16 when the epilogue says so (call it after
 * pooling and masking, right before the store). */
LLVMValueRef sn_gen_epi_store_value(sn_irb *k, const sn_epilogue *e, LLVMValueRef v);
/* Quantizes v to u8 (e->store_mul, e->store_zero) and stores its lanes as bytes at element
 * offset off of a u8 map whose base is base (any pointer type). */
void sn_gen_store_u8(sn_irb *k, const sn_epilogue *e, LLVMValueRef v, LLVMValueRef base,
                     int64_t off);

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

/* ---- training kernels (gen_train.c) ---- */

/* Conv weight gradient: dW[o][c][kh][kw] = sum_{n,oh,ow} dy[n][o][oh][ow] x[n][c][..],
 * written packed [Ob][C][KH][KW][vl]. ptrs: [0] x (layout `in`), [1] dy (blocked `dy`),
 * [2] packed dW. Tasks: (output-channel group, input channel, tap chunk). */
typedef struct sn_convw_desc {
    int64_t N;
    sn_cpu_layout in, dy;
    int O, OH, OW, KH, KW, SH, SW, PH, PW;
    int tq, taps; /* channel blocks and taps per register tile */
} sn_convw_desc;
void sn_convw_choose(sn_convw_desc *d, int vl, int nregs);
int64_t sn_convw_tasks(const sn_convw_desc *d, int vl);
void sn_gen_convw(sn_irb *k, const sn_convw_desc *d);

/* packed [Ob][C][KH][KW][vl] -> OIHW. ptrs: [0] packed, [1] out. One task per block. */
typedef struct sn_unpack_desc {
    int O, C, KH, KW;
} sn_unpack_desc;
int64_t sn_unpack_tasks(const sn_unpack_desc *d, int vl);
void sn_gen_unpack(sn_irb *k, const sn_unpack_desc *d);

/* Conv data gradient for any stride/padding (gather form): dx[n][c][ih][iw] = sum over o
 * and the taps that reach (ih, iw) of dy[n][o][oh][ow] w[o][c][kh][kw]. ptrs: [0] dy
 * (blocked), [1] weights packed transposed [Cb][O][KH][KW][vl], [2] dx (blocked `dx`),
 * [3] mask source (epi.mask). One task per (image, input-channel block). Stride-1 layers
 * use the forward convolution on flipped weights instead (much faster). */
typedef struct sn_convd_desc {
    int64_t N;
    sn_cpu_layout dy, dx;
    int O, KH, KW, SH, SW, PH, PW;
    sn_epilogue epi;
} sn_convd_desc;
int64_t sn_convd_tasks(const sn_convd_desc *d, int vl);
void sn_gen_convd(sn_irb *k, const sn_convd_desc *d);

/* Linear weight gradient: dW[m][k] = sum_n dy[n][m] x[n][k] (plain [M][K]). ptrs: [0] x
 * [N][K], [1] dy [N][M], [2] dW. Tasks: (row group of tr rows, column group of tq vectors). */
typedef struct sn_linw_desc {
    int64_t N;
    int K, M;
    int tr, tq;
} sn_linw_desc;
void sn_linw_choose(sn_linw_desc *d, int vl, int nregs);
int64_t sn_linw_tasks(const sn_linw_desc *d, int vl);
void sn_gen_linw(sn_irb *k, const sn_linw_desc *d);

/* Pooling backward on blocked maps: ptrs [0] x, [1] dy, [2] dx. One task per (image,
 * channel block); the gradient of a max goes to the first maximum in window order. */
typedef struct sn_poolb_desc {
    int64_t N;
    sn_cpu_layout x, dy;
    int max, KH, KW, SH, SW, PH, PW;
} sn_poolb_desc;
int64_t sn_poolb_tasks(const sn_poolb_desc *d);
void sn_gen_poolb(sn_irb *k, const sn_poolb_desc *d);

/* Optimizer updates over plain arrays of n floats with the step's learning rate (and step
 * number for Adam) from the kernel context: ptrs [0] param, [1] grad, [2] state 1, [3]
 * state 2. Same arithmetic as sn_ref_sgd_update / sn_ref_adam_update. */
typedef struct sn_optim_desc {
    int64_t n;
    int adam;
    float momentum, weight_decay, beta1, beta2, eps;
    int nesterov;
} sn_optim_desc;
int64_t sn_optim_tasks(const sn_optim_desc *d);
void sn_gen_optim(sn_irb *k, const sn_optim_desc *d);

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
    int sum; /* with max == 0: the window sum, no division (NIR SumPool2d) */
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
    int affine; /* batch norm: ((x - hi) - lo) * s + b, ptrs [2] s, [3] b | hi | lo (each
                 * section C padded to a multiple of the vector width) */
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
    int unflatten;  /* the inverse: src plain [N][C*H*W] in PyTorch order */
    int round_bf16; /* the copy rounds every value to bf16 (it feeds bf16 layers) */
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
    int stateful; /* step-major: ptrs [2 + record] holds the membrane potentials between runs
                     (M + vl floats), reset when ctx->t == 0 */
    int record;   /* ptrs [2] receives the membrane potential after every step, [T][M] */
} sn_neuron_desc;
int64_t sn_neuron_tasks(const sn_neuron_desc *d);
void sn_gen_neuron(sn_irb *k, const sn_neuron_desc *d);

/* ---- NIR ops (gen_nir.c; plain NCHW maps without halo, E floats per image) ---- */

/* y = x * s: ptrs [0] x [N][E], [1] s [E], [2] y [N][E]. Tasks: images x chunks of E. */
typedef struct sn_scale_desc {
    int64_t N, E;
} sn_scale_desc;
int64_t sn_scale_tasks(const sn_scale_desc *d);
void sn_gen_scale(sn_irb *k, const sn_scale_desc *d);

/* Continuous-time neurons (op_params.h), exactly sn_ref_nir_neuron. ptrs: [0] x [T][N][E],
 * [1] y [T][N][E], [2] leak factors k [E] (LIF, LI: sn_prep_nir_leak), [3] r, [4] v_leak,
 * [5] v_threshold, [6] v_reset ([E] each, those the model reads), [7] state [N*E + vl]
 * (stateful: the potentials between runs, initialized when ctx->t == 0), [8] potentials
 * after every step [T][N][E] (record). Tasks: images x chunks of E. */
typedef struct sn_nir_neuron_desc {
    int T;
    int64_t N, E;
    sn_nir_neuron_params p;
    int stateful;
    int record;
} sn_nir_neuron_desc;
int64_t sn_nir_neuron_tasks(const sn_nir_neuron_desc *d);
void sn_gen_nir_neuron(sn_irb *k, const sn_nir_neuron_desc *d);

/* BPTT through the neuron: ptrs [0] x (the neuron's input) [T][M], [1] dL/dspikes [T][M],
 * [2] dL/dx [T][M] (also the scratch holding the recomputed H[t]). Same tasks as the
 * forward. */
void sn_gen_neuron_bwd(sn_irb *k, const sn_neuron_desc *d);

/* Encoders: x [M] -> s [T][M]. Poisson draws u = sn_rand_u01(mix64(ctx->seed ^ stream), t,
 * i) and counts inputs outside [0, 1] into ctx->bad_input. ptrs: [0] x, [1] s. */
typedef struct sn_encode_desc {
    int T;
    int64_t M;
    int poisson;
    uint64_t stream;
    float scale;   /* direct: multiplier (0 or 1: none) */
    int64_t image; /* elements per image: a rank's draws start at ctx->sample0 * image */
} sn_encode_desc;
int64_t sn_encode_tasks(const sn_encode_desc *d);
void sn_gen_encode(sn_irb *k, const sn_encode_desc *d);

/* Spike deletion over M dense counts, as sn_ref_spike_drop with key sn_rand_key(ctx->seed,
 * stream). ptrs: [0] x, [1] y. */
typedef struct sn_spike_drop_desc {
    int64_t M;
    int U;
    float p;
    uint64_t stream;
} sn_spike_drop_desc;
int64_t sn_spike_drop_tasks(const sn_spike_drop_desc *d);
void sn_gen_spike_drop(sn_irb *k, const sn_spike_drop_desc *d);

/* y[i] = (1/T) sum_t x[t][i], accumulated in double. ptrs: [0] x, [1] y. */
typedef struct sn_time_mean_desc {
    int T;
    int64_t M;
    int stateful; /* step-major: ptrs [2] holds running sums (M + vl doubles); T is the total
                     step count; y is the mean so far over T */
} sn_time_mean_desc;
int64_t sn_time_mean_tasks(const sn_time_mean_desc *d);
void sn_gen_time_mean(sn_irb *k, const sn_time_mean_desc *d);
/* Gradients over time (same tasks): the time mean's, ptrs [0] dy [M] -> [1] dx [T][M]
 * (dy / T at every step), or the direct encoder's, ptrs [0] ds [T][M] -> [1] dx [M]
 * (the sum over t, in double). */
void sn_gen_time_bwd(sn_irb *k, const sn_time_mean_desc *d, int direct_encoder);

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
    int over_gbatch; /* loss gradient: the mean over ctx->gbatch images (N: this rank's) */
} sn_loss_desc;
void sn_gen_loss(sn_irb *k, const sn_loss_desc *d);
/* Loss gradients (one task): ptrs [0] scores [N][K], [1] labels, [2] d scores. */
void sn_gen_loss_grad(sn_irb *k, const sn_loss_desc *d);

/* A floating-point peak probe: each task runs `iters` rounds of 12 independent vector FMAs
 * and stores the result to ptrs[0][task * vl ...]. FLOPs per task: iters * 12 * vl * 2. */
void sn_gen_peak(sn_irb *k, int64_t iters);
/* The same with another instruction (16 lanes, the target must have it): operations per task
 * iters * 12 * 16 * (vdpbf16ps: 4, two multiply-adds a lane; vpdpbusd: 8, four). */
typedef enum sn_peak_kind { SN_PEAK_FMA = 0, SN_PEAK_VDPBF16PS, SN_PEAK_VPDPBUSD } sn_peak_kind;
void sn_gen_peak_kind(sn_irb *k, int64_t iters, sn_peak_kind kind);

/* ---- iteration over an activation (gen_iter.c), for elementwise and reduction kernels ---- */
typedef struct sn_iter_ctx {
    LLVMValueRef n;      /* image (row of a flat tensor) */
    LLVMValueRef c0;     /* first channel of the vector */
    LLVMValueRef yy, xx; /* pixel (0 for flat tensors) */
    LLVMValueRef off;    /* float offset of the vector in the layout */
    int lanes;           /* valid channels in the vector */
} sn_iter_ctx;
typedef void (*sn_iter_body)(sn_irb *k, const sn_iter_ctx *it, void *state);
typedef struct sn_iter_fns {
    sn_iter_body body;
    /* per channel block, around the loop over images (reductions only) */
    void (*begin)(sn_irb *k, LLVMValueRef cb, int lanes, void *state);
    void (*end)(sn_irb *k, LLVMValueRef cb, int lanes, void *state);
} sn_iter_fns;
int64_t sn_iter_tasks(const sn_cpu_layout *l, int64_t N, int vl, int by_channel);
void sn_gen_iter(sn_irb *k, const sn_cpu_layout *l, int64_t N, int by_channel,
                 LLVMValueRef *zero_halo, int nz, const sn_iter_fns *fns, void *state);
LLVMValueRef sn_iter_load(sn_irb *k, LLVMValueRef base, const sn_iter_ctx *it);
void sn_iter_store(sn_irb *k, LLVMValueRef v, LLVMValueRef base, const sn_iter_ctx *it);
LLVMValueRef sn_iter_chan(sn_irb *k, LLVMValueRef base, const sn_iter_ctx *it);

/* ---- multi-input elementwise ops (gen_ew.c) ----
 * ptrs: [0] y (output, same layout), [1] x1, [2] x2, [3] A, [4] B, [5] C (per channel,
 * padded). The dropout mask is a function of the logical NCHW index, as in the reference. */
typedef enum sn_ew_op {
    SN_EW_MASK_POS = 0, /* y = x1 where x2 > 0 else 0         (relu backward, x2 = relu output) */
    SN_EW_MASK_RANGE,   /* y = x1 where 0 < x2 < B else 0     (quant backward, x2 = quant input) */
    SN_EW_ADD,          /* y = x1 + x2 */
    SN_EW_DROPOUT,      /* y = x1 * keep / (1 - p) when training, else x1 (forward and backward) */
    SN_EW_AFFINE3,      /* y = A[c] x1 + B[c] (x2 - M[c]) + C[c] (batch-norm data gradient) */
} sn_ew_op;
typedef struct sn_ew_desc {
    int64_t N;
    sn_cpu_layout lay;
    sn_ew_op op;
    float B;         /* MASK_RANGE */
    float p;         /* DROPOUT */
    uint64_t stream; /* DROPOUT */
    int64_t nl;      /* DROPOUT: images per time step (the plan's batch): a rank's image n of
                        step t is image t * ctx->gbatch + ctx->sample0 + n of the global batch */
    sn_epilogue epi; /* applied after the op */
} sn_ew_desc;
int64_t sn_ew_tasks(const sn_ew_desc *d, int vl);
void sn_gen_ew(sn_irb *k, const sn_ew_desc *d);

/* ---- batch-norm training kernels (gen_bn.c), one task per channel block ----
 * stats:  ptrs [0] x, [1] gamma, [2] beta, [3] running_mean, [4] running_var, [5] count
 *         (int64, incremented by the first task), [6] save_mean, [7] save_invstd, [8] scale,
 *         [9] shift (y = scale*x + shift; per-channel arrays padded to the block width).
 * bwd:    ptrs [0] x, [1] dy, [2] gamma, [3] save_mean, [4] save_invstd, [5] dgamma, [6] dbeta,
 *         [7] A, [8] Bx, [9] C  (dx = A*dy + Bx*(x - mean) + C, applied by an SN_EW_AFFINE3
 *         kernel with the saved mean).
 * bias:   ptrs [0] dy, [1] db: the sum of dy per channel (the bias gradient).
 * Synchronized batch norm (runtime/cpu/bn_sync.h) splits stats and bwd around a sum over
 * the ranks; these kernels compute the per-rank sums, in double, [2][Cpad] (Cpad = C padded
 * to the block width):
 * sums:     ptrs [0] x, [1] sums (sum x, sum x^2).
 * bwd_sums: ptrs as bwd up to [6] (gamma unused), [7] sums (sum dy, sum dy * xhat); dgamma
 *           and dbeta are this rank's. */
typedef enum sn_bn_kind {
    SN_BN_STATS = 0,
    SN_BN_BWD_REDUCE,
    SN_BN_BIAS_GRAD,
    SN_BN_SUMS,
    SN_BN_BWD_SUMS
} sn_bn_kind;
typedef struct sn_bn_desc {
    int64_t N;
    sn_cpu_layout lay;
    sn_bn_kind kind;
    float eps, momentum;
} sn_bn_desc;
int64_t sn_bn_tasks(const sn_bn_desc *d, int vl);
void sn_gen_bn(sn_irb *k, const sn_bn_desc *d);

/* Offsets of sn_kctx fields, for kernels that read the seed or report bad input. */
int64_t sn_kctx_seed_offset(void);
int64_t sn_kctx_bad_input_offset(void);
int64_t sn_kctx_training_offset(void);
int64_t sn_kctx_lr_offset(void);
int64_t sn_kctx_step_offset(void);
int64_t sn_kctx_sample0_offset(void);
int64_t sn_kctx_gbatch_offset(void);
/* Loads a field of the kernel context (ctx argument) at a byte offset. */
LLVMValueRef sn_kctx_load(sn_irb *k, int64_t offset, LLVMTypeRef type);
/* sn_rand_key(seed, stream) and the [0,1) draws of sn_rand_u01_key, in IR. */
LLVMValueRef sn_gen_rand_key(sn_irb *k, LLVMValueRef seed, uint64_t stream);
/* ctx->t (the time step of a step-major run) as i64, and whether it is 0 (i1). */
LLVMValueRef sn_gen_ctx_t(sn_irb *k);
LLVMValueRef sn_gen_rand_u01(sn_irb *k, LLVMValueRef key, LLVMValueRef index_vec_i32);

#endif
