/* x86 instruction-set features, as LLVM names them, and the host's set from cpuid.
 *
 * An artifact holds object code for one or more CPU variants; each variant records the
 * features its code may use (a mask of the bits below) and the artifact's runtime picks,
 * when a context is created, the first variant whose features this CPU has. The table is
 * every feature LLVM can use in code it generates on its own (without intrinsics) for the
 * kernels snnc emits; a feature LLVM reports that is not listed (cache-control or
 * system instructions such as clwb, xsaveopt, rdpid) never appears in that code. */
#ifndef SN_CPU_FEATURES_H
#define SN_CPU_FEATURES_H

#include <stddef.h>
#include <stdint.h>

typedef enum sn_cpu_feature {
    SN_CPUF_SSE3 = 0,
    SN_CPUF_SSSE3,
    SN_CPUF_SSE41,
    SN_CPUF_SSE42,
    SN_CPUF_POPCNT,
    SN_CPUF_CX16,
    SN_CPUF_SAHF,
    SN_CPUF_AVX,
    SN_CPUF_AVX2,
    SN_CPUF_FMA,
    SN_CPUF_F16C,
    SN_CPUF_BMI,
    SN_CPUF_BMI2,
    SN_CPUF_LZCNT,
    SN_CPUF_MOVBE,
    SN_CPUF_XSAVE,
    SN_CPUF_PCLMUL,
    SN_CPUF_AES,
    SN_CPUF_ADX,
    SN_CPUF_PRFCHW,
    SN_CPUF_AVX512F,
    SN_CPUF_AVX512DQ,
    SN_CPUF_AVX512CD,
    SN_CPUF_AVX512BW,
    SN_CPUF_AVX512VL,
    SN_CPUF_AVX512IFMA,
    SN_CPUF_AVX512VBMI,
    SN_CPUF_AVX512VBMI2,
    SN_CPUF_AVX512VNNI,
    SN_CPUF_AVX512BITALG,
    SN_CPUF_AVX512VPOPCNTDQ,
    SN_CPUF_AVX512BF16,
    SN_CPUF_AVX512FP16,
    SN_CPUF_GFNI,
    SN_CPUF_VAES,
    SN_CPUF_VPCLMULQDQ,
    SN_CPUF_AVXVNNI,
    SN_CPUF_AMX_TILE,
    SN_CPUF_AMX_INT8,
    SN_CPUF_AMX_BF16,
    SN_CPUF_COUNT
} sn_cpu_feature;

/* The LLVM feature name ("avx512f", without the sign) of a feature. */
const char *sn_cpu_feature_name(sn_cpu_feature f);
/* The feature of an LLVM name, or -1. */
int sn_cpu_feature_from_name(const char *name);
/* The features of this CPU that the operating system has enabled (AVX and AVX-512 state
 * saved on context switches); 0 on other architectures. */
uint64_t sn_cpu_host_features(void);
/* The mask of an LLVM feature string ("+avx2,-avx512f,+fma,..."; later entries win); names
 * outside the table are ignored. */
uint64_t sn_cpu_features_parse(const char *llvm_features);
/* "avx2,fma,..." for a mask (truncated to n bytes); returns out. */
char *sn_cpu_features_str(uint64_t mask, char *out, size_t n);

#endif
