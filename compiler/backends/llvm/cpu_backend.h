/* The CPU backend: fused kernel groups -> a plan of LLVM-JIT-compiled kernels.
 *
 * Layout choices (recorded on every plan buffer): activations feeding or produced by
 * convolutions are channel-blocked with a zero halo as wide as the largest convolution
 * padding in the graph; flat tensors ([N, K]) are plain; the network input is plain NCHW
 * (a first convolution with fewer channels than the vector width reads it directly, after
 * a copy that adds the halo). Weights are packed by preparation steps (batch norm folded,
 * ternary weights ternarized) when the weights are bound. */
#ifndef SN_CPU_BACKEND_H
#define SN_CPU_BACKEND_H

#include "../../../runtime/exec/plan.h"
#include "../../ir/ir.h"
#include "../../passes/fusion.h"
#include "jit.h"
#include "precision.h"

typedef struct sn_cpu_kernel_info {
    char symbol[64];
    char kind[24];      /* conv, linear, pool, eltwise, reorder, ... */
    unsigned char *obj; /* object code (only when capturing for ahead-of-time output) */
    size_t obj_size;
    char *ir;       /* optimized LLVM IR text (only when capturing) */
    char *asm_text; /* assembly (only when capturing) */
} sn_cpu_kernel_info;

typedef struct sn_cpu_artifacts {
    sn_cpu_kernel_info *k;
    int n, cap;
    double compile_seconds;
} sn_cpu_artifacts;

/* int8: how the input of a convolution is quantized to u8 (calibrated; inputs on a known
 * grid, quantizer levels or spike counts, need none): q = round(x / scale) + zero, clamped
 * to [0, 255] (zero 0: x >= 0) or [1, 255] (zero 128: signed x, symmetric). */
typedef struct sn_act_quant {
    char name[SN_PLAN_NAME_MAX]; /* the tensor */
    float scale;
    int zero;
} sn_act_quant;

typedef struct sn_cpu_options {
    int capture; /* SN_CAPTURE_* (jit.h): keep every kernel's object code (and IR) in art */
    /* kernel symbols are PREFIX_KIND_HASH (default "snk"): artifacts use a prefix of their
     * own per model and CPU variant, so several can be linked into one program */
    const char *symbol_prefix;
    int direct_conv;         /* 1: direct convolutions only, no Winograd (as SNNC_CONV=direct) */
    sn_precision precision;  /* of the convolutions and linear layers (precision.h) */
    const sn_act_quant *act; /* int8: the calibrated convolution inputs */
    int nact;
} sn_cpu_options;

/* Lowers g (grouped by gs) into plan for the JIT's target. art may be NULL. */
sn_code sn_lower_cpu(const sn_graph *g, const sn_groups *gs, sn_jit *jit,
                     const sn_cpu_options *opts, sn_plan *plan, sn_cpu_artifacts *art,
                     sn_status *st);
void sn_cpu_artifacts_free(sn_cpu_artifacts *a);

#endif
