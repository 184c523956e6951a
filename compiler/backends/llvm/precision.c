#include "precision.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../../../runtime/core/util.h"
#include "../../../runtime/exec/plan.h"
#include "kernels.h"

/* ---- the vdpbf16ps / FMA probe ---- */

#define PROBE_ITERS  100000
#define PROBE_CHAINS 12

static pthread_mutex_t probe_mu = PTHREAD_MUTEX_INITIALIZER;
static int probe_done;
static double probe_dp, probe_fma;

/* multiply-adds per second of one probe kernel (best of 3 runs), 0 on failure */
static double run_probe(sn_jit *jit, int dp) {
    char name[64];
    snprintf(name, sizeof name, "snnc_probe_%s", dp ? "vdpbf16ps" : "fma");
    sn_status st;
    sn_status_init(&st);
    sn_irb k;
    irb_begin(&k, jit, name, 16);
    sn_gen_peak_kind(&k, PROBE_ITERS, dp ? SN_PEAK_VDPBF16PS : SN_PEAK_FMA);
    irb_end(&k);
    if (sn_jit_compile(jit, k.mod, k.ctx, name, NULL, NULL, NULL, &st) != SN_OK) return 0;
    sn_cpu_fn fn = (sn_cpu_fn)sn_jit_lookup(jit, name, &st);
    if (!fn) return 0;
    float *out = sn_aligned_alloc(64 * sizeof(float));
    if (!out) return 0;
    void *ptrs[1] = {out};
    sn_kctx ctx;
    memset(&ctx, 0, sizeof ctx);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = sn_now();
        fn(&ctx, NULL, ptrs, 0, 1);
        double dt = sn_now() - t0;
        /* vdpbf16ps: 2 products per lane; FMA: 1 */
        double macs = (double)PROBE_ITERS * PROBE_CHAINS * 16 * (dp ? 2 : 1);
        if (dt > 0 && macs / dt > best) best = macs / dt;
    }
    sn_aligned_free(out);
    return best;
}

void sn_cpu_bf16_rates(sn_jit *jit, double *dp_macs, double *fma_macs) {
    pthread_mutex_lock(&probe_mu);
    if (!probe_done && sn_jit_bf16(jit)) {
        probe_dp = run_probe(jit, 1);
        probe_fma = run_probe(jit, 0);
        probe_done = 1;
    }
    *dp_macs = probe_done ? probe_dp : 0;
    *fma_macs = probe_done ? probe_fma : 0;
    pthread_mutex_unlock(&probe_mu);
}

sn_mm_path sn_cpu_path(sn_jit *jit, sn_precision p, int *dp_too) {
    if (dp_too) *dp_too = 0;
    sn_isa_level l = sn_jit_level(jit);
    if (p == SN_PREC_BF16) {
        if (l >= SN_LEVEL_AMX) return SN_PATH_BF16_AMX;
        if (l >= SN_LEVEL_AVX512BF16) {
            if (sn_jit_level_forced(jit)) return SN_PATH_BF16_DP;
            double dp, fma;
            sn_cpu_bf16_rates(jit, &dp, &fma);
            if (dp_too) *dp_too = dp >= 1.5 * fma && fma > 0;
        }
        return SN_PATH_BF16_FMA;
    }
    if (p == SN_PREC_INT8) {
        if (l >= SN_LEVEL_AMX) return SN_PATH_I8_AMX;
        if (l >= SN_LEVEL_AVX512VNNI) return SN_PATH_I8_VNNI;
        if (l >= SN_LEVEL_AVX512) return SN_PATH_I8_EMU;
        return SN_PATH_I8_NONE;
    }
    return SN_PATH_FP32;
}

const char *sn_cpu_path_name(sn_mm_path path) {
    switch (path) {
    case SN_PATH_FP32:
        return "fp32 FMA";
    case SN_PATH_BF16_FMA:
        return "bf16 operands on the fp32 FMA units (emulated)";
    case SN_PATH_BF16_DP:
        return "avx512bf16 (vdpbf16ps)";
    case SN_PATH_BF16_AMX:
        return "amx (tdpbf16ps)";
    case SN_PATH_I8_EMU:
        return "u8 x s8 products with vpmaddwd (emulated: no AVX512-VNNI)";
    case SN_PATH_I8_VNNI:
        return "avx512vnni (vpdpbusd)";
    case SN_PATH_I8_AMX:
        return "amx (tdpbusd)";
    case SN_PATH_I8_NONE:
        return "unavailable";
    }
    return "?";
}

void sn_cpu_precision_note(sn_jit *jit, sn_precision p, char *out, size_t n) {
    int dp_too = 0;
    sn_mm_path path = sn_cpu_path(jit, p, &dp_too);
    const char *lvl = sn_jit_level_name(sn_jit_level(jit));
    const char *why = sn_jit_level_forced(jit) ? " (SNNC_ISA)" : "";
    const char *amx = sn_jit_amx_note(jit);
    switch (path) {
    case SN_PATH_BF16_FMA: {
        double dp = 0, fma = 0;
        if (sn_jit_bf16(jit)) sn_cpu_bf16_rates(jit, &dp, &fma);
        if (sn_jit_bf16(jit) && fma > 0)
            snprintf(out, n,
                     "precision bf16: %s; vdpbf16ps runs at %.2fx the fp32 FMA's multiply-adds "
                     "on this CPU (%.1f against %.1f G/s a core) and there is no AMX%s%s%s",
                     dp_too ? "vdpbf16ps for the convolutions Winograd does not take, the rest on "
                              "the fp32 FMA units"
                            : "bf16 operands on the fp32 FMA units (emulated: the products and "
                              "sums of bf16 arithmetic); SNNC_ISA=avx512bf16 forces vdpbf16ps",
                     dp / fma, dp / 1e9, fma / 1e9, amx ? " (" : "", amx ? amx : "",
                     amx ? ")" : "");
        else
            snprintf(out, n,
                     "precision bf16: emulated on the fp32 FMA units (bf16-rounded operands; "
                     "instruction set %s%s has neither AMX nor AVX512-BF16)%s%s",
                     lvl, why, amx ? "; " : "", amx ? amx : "");
        break;
    }
    case SN_PATH_I8_EMU:
        snprintf(out, n,
                 "precision int8: emulated with vpmaddwd (instruction set %s%s has no "
                 "AVX512-VNNI); linear layers stay fp32",
                 lvl, why);
        break;
    case SN_PATH_I8_NONE:
        snprintf(out, n,
                 "precision int8: unavailable with instruction set %s%s (it needs AVX-512): every "
                 "layer runs in fp32",
                 lvl, why);
        break;
    case SN_PATH_FP32:
        snprintf(out, n, "precision fp32 (%s)", lvl);
        break;
    case SN_PATH_BF16_AMX:
        snprintf(out, n,
                 "precision bf16: amx (tdpbf16ps) for the stride-1 convolutions, vdpbf16ps for "
                 "the other convolutions; linear layers and masked gradient convolutions on the "
                 "fp32 FMA units with bf16 operands");
        break;
    case SN_PATH_BF16_DP:
        snprintf(out, n,
                 "precision bf16: avx512bf16 (vdpbf16ps) for the convolutions%s; linear layers "
                 "and masked gradient convolutions on the fp32 FMA units with bf16 operands%s%s",
                 why, amx ? "; " : "", amx ? amx : "");
        break;
    case SN_PATH_I8_AMX:
        snprintf(out, n,
                 "precision int8: amx (tdpbusd) for the stride-1 convolutions, vpdpbusd for the "
                 "others; linear layers stay fp32");
        break;
    case SN_PATH_I8_VNNI:
        snprintf(out, n,
                 "precision int8: avx512vnni (vpdpbusd) for the convolutions%s; linear layers "
                 "stay fp32%s%s",
                 why, amx ? "; " : "", amx ? amx : "");
        break;
    }
}
