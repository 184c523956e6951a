/* Reduced precision on the CPU: which instructions carry the convolutions and linear
 * layers of a --precision on a JIT's target, and the messages that say so.
 *
 *   bf16  operands rounded to bf16 (round to nearest even), products exact, sums in fp32:
 *         amx         tdpbf16ps on AMX tiles (stride-1 convolutions);
 *         avx512bf16  vdpbf16ps (direct convolutions, 16 output channels per vector);
 *         fma         the fp32 kernels (direct, Winograd, linear) on the rounded operands:
 *                     bf16 emulated on the fp32 FMA units, the same products and sums.
 *         The other layers of a plan run as fp32 with rounded operands (fma).
 *   int8  post-training quantization of the convolutions: u8 activations (per-tensor scale,
 *         zero point 0 or 128) times s8 weights (per-output-channel scale), exact int32
 *         sums, requantization in the epilogue:
 *         amx         tdpbusd (stride-1 convolutions);
 *         avx512vnni  vpdpbusd;
 *         avx512      the same products with vpmaddwd (emulated);
 *         below AVX-512 int8 is unavailable: the layers stay fp32.
 *         Linear layers stay fp32.
 *
 * Without SNNC_ISA the bf16 path on a CPU without AMX is chosen by a one-time probe: where
 * vdpbf16ps delivers fewer than 1.5x the multiply-adds per second of the fp32 FMA (Intel
 * cores run it at half the FMA rate), bf16 runs on the FMA units, which also keeps the
 * Winograd convolutions; else vdpbf16ps takes the layers Winograd does not. SNNC_ISA=LEVEL
 * forces that level's path (SNNC_ISA=avx512bf16: vdpbf16ps for every convolution it can
 * run). */
#ifndef SN_CPU_PRECISION_H
#define SN_CPU_PRECISION_H

#include "jit.h"

typedef enum sn_precision { SN_PREC_FP32 = 0, SN_PREC_BF16, SN_PREC_INT8 } sn_precision;

typedef enum sn_mm_path {
    SN_PATH_FP32 = 0,
    SN_PATH_BF16_FMA, /* emulated: rounded operands, fp32 FMA */
    SN_PATH_BF16_DP,  /* vdpbf16ps */
    SN_PATH_BF16_AMX, /* tdpbf16ps */
    SN_PATH_I8_EMU,   /* vpmaddwd */
    SN_PATH_I8_VNNI,  /* vpdpbusd */
    SN_PATH_I8_AMX,   /* tdpbusd */
    SN_PATH_I8_NONE,  /* int8 unavailable: fp32 */
} sn_mm_path;

/* The path a precision takes on jit's target; *dp_too (bf16 without AMX, not forced) says
 * whether vdpbf16ps also takes the non-Winograd convolutions of an FMA plan. */
sn_mm_path sn_cpu_path(sn_jit *jit, sn_precision p, int *dp_too);
const char *sn_cpu_path_name(sn_mm_path path); /* "avx512bf16 (vdpbf16ps)", ... */
/* A line describing how precision p runs on jit's target (emulated or unavailable
 * precisions say so), e.g. for the commands to print once. */
void sn_cpu_precision_note(sn_jit *jit, sn_precision p, char *out, size_t n);
/* The probe's figures: multiply-adds per second of vdpbf16ps and of the fp32 FMA on one
 * thread (0 when the target has no AVX512-BF16). Measured once per process. */
void sn_cpu_bf16_rates(sn_jit *jit, double *dp_macs, double *fma_macs);

#endif
