#include "cpu_features.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define SN_X86 1
#endif

static const char *const NAMES[SN_CPUF_COUNT] = {
    "sse3",
    "ssse3",
    "sse4.1",
    "sse4.2",
    "popcnt",
    "cx16",
    "sahf",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "bmi",
    "bmi2",
    "lzcnt",
    "movbe",
    "xsave",
    "pclmul",
    "aes",
    "adx",
    "prfchw",
    "avx512f",
    "avx512dq",
    "avx512cd",
    "avx512bw",
    "avx512vl",
    "avx512ifma",
    "avx512vbmi",
    "avx512vbmi2",
    "avx512vnni",
    "avx512bitalg",
    "avx512vpopcntdq",
    "avx512bf16",
    "avx512fp16",
    "gfni",
    "vaes",
    "vpclmulqdq",
    "avxvnni",
    "amx-tile",
    "amx-int8",
    "amx-bf16",
};

const char *sn_cpu_feature_name(sn_cpu_feature f) {
    return (unsigned)f < SN_CPUF_COUNT ? NAMES[f] : "?";
}

int sn_cpu_feature_from_name(const char *name) {
    for (int i = 0; i < SN_CPUF_COUNT; i++)
        if (strcmp(NAMES[i], name) == 0) return i;
    return -1;
}

#define BIT(f) ((uint64_t)1 << (f))

#ifdef SN_X86
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}
#endif

uint64_t sn_cpu_host_features(void) {
    uint64_t m = 0;
#ifdef SN_X86
    unsigned a, b, c, d, max = __get_cpuid_max(0, NULL);
    if (max < 1) return 0;
    __cpuid_count(1, 0, a, b, c, d);
    int osxsave = (c >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int avx_os = (xcr0 & 0x6) == 0x6;                /* XMM and YMM state */
    int avx512_os = avx_os && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    int amx_os = (xcr0 & 0x60000) == 0x60000;        /* XTILECFG, XTILEDATA */
    struct {
        unsigned reg, bit;
        sn_cpu_feature f;
    } leaf1[] = {{2, 0, SN_CPUF_SSE3},   {2, 9, SN_CPUF_SSSE3},   {2, 19, SN_CPUF_SSE41},
                 {2, 20, SN_CPUF_SSE42}, {2, 23, SN_CPUF_POPCNT}, {2, 13, SN_CPUF_CX16},
                 {2, 22, SN_CPUF_MOVBE}, {2, 26, SN_CPUF_XSAVE},  {2, 1, SN_CPUF_PCLMUL},
                 {2, 25, SN_CPUF_AES}};
    unsigned r1[4] = {a, b, c, d};
    for (size_t i = 0; i < sizeof leaf1 / sizeof leaf1[0]; i++)
        if ((r1[leaf1[i].reg] >> leaf1[i].bit) & 1) m |= BIT(leaf1[i].f);
    if (avx_os) {
        if ((c >> 28) & 1) m |= BIT(SN_CPUF_AVX);
        if ((c >> 12) & 1) m |= BIT(SN_CPUF_FMA);
        if ((c >> 29) & 1) m |= BIT(SN_CPUF_F16C);
    }
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        unsigned sub1_a = 0;
        if (a >= 1) {
            unsigned a1, b1, c1, d1;
            __cpuid_count(7, 1, a1, b1, c1, d1);
            sub1_a = a1;
        }
        if ((b >> 3) & 1) m |= BIT(SN_CPUF_BMI);
        if ((b >> 8) & 1) m |= BIT(SN_CPUF_BMI2);
        if ((b >> 19) & 1) m |= BIT(SN_CPUF_ADX);
        if (avx_os) {
            if ((b >> 5) & 1) m |= BIT(SN_CPUF_AVX2);
            if ((c >> 9) & 1) m |= BIT(SN_CPUF_VAES);
            if ((c >> 10) & 1) m |= BIT(SN_CPUF_VPCLMULQDQ);
            if ((sub1_a >> 4) & 1) m |= BIT(SN_CPUF_AVXVNNI);
        }
        if ((c >> 8) & 1) m |= BIT(SN_CPUF_GFNI);
        if (avx512_os) {
            struct {
                unsigned reg, bit;
                sn_cpu_feature f;
            } l7[] = {{1, 16, SN_CPUF_AVX512F},         {1, 17, SN_CPUF_AVX512DQ},
                      {1, 28, SN_CPUF_AVX512CD},        {1, 30, SN_CPUF_AVX512BW},
                      {1, 31, SN_CPUF_AVX512VL},        {1, 21, SN_CPUF_AVX512IFMA},
                      {2, 1, SN_CPUF_AVX512VBMI},       {2, 6, SN_CPUF_AVX512VBMI2},
                      {2, 11, SN_CPUF_AVX512VNNI},      {2, 12, SN_CPUF_AVX512BITALG},
                      {2, 14, SN_CPUF_AVX512VPOPCNTDQ}, {3, 23, SN_CPUF_AVX512FP16}};
            unsigned r7[4] = {a, b, c, d};
            for (size_t i = 0; i < sizeof l7 / sizeof l7[0]; i++)
                if ((r7[l7[i].reg] >> l7[i].bit) & 1) m |= BIT(l7[i].f);
            if ((sub1_a >> 5) & 1) m |= BIT(SN_CPUF_AVX512BF16);
        }
        if (amx_os) {
            if ((d >> 24) & 1) m |= BIT(SN_CPUF_AMX_TILE);
            if ((d >> 25) & 1) m |= BIT(SN_CPUF_AMX_INT8);
            if ((d >> 22) & 1) m |= BIT(SN_CPUF_AMX_BF16);
        }
    }
    unsigned maxe = __get_cpuid_max(0x80000000u, NULL);
    if (maxe >= 0x80000001u) {
        __cpuid_count(0x80000001u, 0, a, b, c, d);
        if (c & 1) m |= BIT(SN_CPUF_SAHF);
        if ((c >> 5) & 1) m |= BIT(SN_CPUF_LZCNT);
        if ((c >> 8) & 1) m |= BIT(SN_CPUF_PRFCHW);
    }
#endif
    return m;
}

/* What each feature implies (as in LLVM's X86 feature graph): "+x" enables these too,
 * "-x" disables every feature that implies x. */
static uint64_t implies(int f) {
    switch ((sn_cpu_feature)f) {
    case SN_CPUF_SSSE3:
        return BIT(SN_CPUF_SSE3);
    case SN_CPUF_SSE41:
        return BIT(SN_CPUF_SSSE3);
    case SN_CPUF_SSE42:
        return BIT(SN_CPUF_SSE41);
    case SN_CPUF_AVX:
        return BIT(SN_CPUF_SSE42);
    case SN_CPUF_AVX2:
    case SN_CPUF_FMA:
    case SN_CPUF_F16C:
        return BIT(SN_CPUF_AVX);
    case SN_CPUF_AVX512F:
        return BIT(SN_CPUF_AVX2) | BIT(SN_CPUF_FMA) | BIT(SN_CPUF_F16C);
    case SN_CPUF_AVX512DQ:
    case SN_CPUF_AVX512CD:
    case SN_CPUF_AVX512BW:
    case SN_CPUF_AVX512VL:
    case SN_CPUF_AVX512IFMA:
    case SN_CPUF_AVX512VNNI:
    case SN_CPUF_AVX512VPOPCNTDQ:
        return BIT(SN_CPUF_AVX512F);
    case SN_CPUF_AVX512VBMI:
    case SN_CPUF_AVX512VBMI2:
    case SN_CPUF_AVX512BITALG:
    case SN_CPUF_AVX512BF16:
        return BIT(SN_CPUF_AVX512BW);
    case SN_CPUF_AVX512FP16:
        return BIT(SN_CPUF_AVX512BW) | BIT(SN_CPUF_AVX512DQ) | BIT(SN_CPUF_AVX512VL);
    case SN_CPUF_VAES:
        return BIT(SN_CPUF_AVX) | BIT(SN_CPUF_AES);
    case SN_CPUF_VPCLMULQDQ:
        return BIT(SN_CPUF_AVX) | BIT(SN_CPUF_PCLMUL);
    case SN_CPUF_AVXVNNI:
        return BIT(SN_CPUF_AVX2);
    case SN_CPUF_AMX_INT8:
    case SN_CPUF_AMX_BF16:
        return BIT(SN_CPUF_AMX_TILE);
    default:
        return 0;
    }
}

static uint64_t enable(uint64_t m, int f) {
    uint64_t add = BIT(f);
    while (add & ~m) {
        m |= add;
        uint64_t more = 0;
        for (int i = 0; i < SN_CPUF_COUNT; i++)
            if (add & BIT(i)) more |= implies(i);
        add = more;
    }
    return m;
}

static uint64_t disable(uint64_t m, int f) {
    uint64_t off = BIT(f);
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < SN_CPUF_COUNT; i++)
            if (!(off & BIT(i)) && (implies(i) & off)) {
                off |= BIT(i);
                changed = 1;
            }
    }
    return m & ~off;
}

uint64_t sn_cpu_features_parse(const char *s) {
    uint64_t m = 0;
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n > 1 && n < 64 && (s[0] == '+' || s[0] == '-')) {
            char name[64];
            memcpy(name, s + 1, n - 1);
            name[n - 1] = '\0';
            int f = sn_cpu_feature_from_name(name);
            if (f >= 0) {
                m = s[0] == '+' ? enable(m, f) : disable(m, f);
            }
        }
        s = e ? e + 1 : NULL;
    }
    return m;
}

char *sn_cpu_features_str(uint64_t mask, char *out, size_t n) {
    size_t len = 0;
    if (n) out[0] = '\0';
    for (int i = 0; i < SN_CPUF_COUNT; i++) {
        if (!(mask & BIT(i))) continue;
        int w = snprintf(out + len, n > len ? n - len : 0, "%s%s", len ? "," : "", NAMES[i]);
        if (w < 0 || len + (size_t)w >= n) break;
        len += (size_t)w;
    }
    return out;
}
