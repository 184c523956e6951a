/* cuda_emu.h: the CUDA programming model for a host C++ compiler, for the test emulator
 * (tests/emu/emu_*.c). The emulator's NVRTC stand-in pastes this file in front of a
 * kernel's rendered source (the prelude and template exactly as NVRTC receives them) and
 * compiles the whole with the host's C++17 compiler into a shared object; its driver
 * stand-in runs launches on the CPU:
 *
 *   - every thread of a block is a fiber: __syncthreads() switches to the emulator's
 *     scheduler, which resumes the block's threads in the order the schedule gives (in
 *     order, reversed, random) once every live thread has arrived, so the barrier is real;
 *   - __shared__ variables live in one linker section per kernel ("snemu_shared"), filled
 *     with NaN bytes at the start of every block;
 *   - atomics are plain read-modify-writes (threads switch only at barriers);
 *   - the explicitly rounded intrinsics are IEEE operations (the object is compiled with
 *     -ffp-contract=off, so nothing is fused);
 *   - the prelude's four inline-PTX wrappers (TF32 / BF16 conversion, mma.sync m16n8k8 TF32
 *     and m16n8k16 BF16) are replaced (the prelude compiles them only without
 *     SNNC_CUDA_EMULATED) by the definitions below, written from the PTX ISA: rounding as
 *     cvt.rna.tf32.f32 / cvt.rn.bf16x2.f32, and each mma a warp-level rendezvous where
 *     every lane deposits its fragments and reads back its part of D = A B + C, the
 *     fragment layouts mapping (lane, register) to matrix positions as the ISA's figures.
 *
 * The part between SNEMU_ABI_BEGIN / END is shared with the emulator's C code (compiled
 * there with SNEMU_ABI_ONLY defined). */
#ifndef SNNC_CUDA_EMU_H
#define SNNC_CUDA_EMU_H

/* SNEMU_ABI_BEGIN */
#define SNEMU_ABI_VERSION 3

typedef struct snemu_uint3 {
    unsigned x, y, z;
} snemu_uint3;

typedef struct snemu_thread {
    snemu_uint3 idx; /* threadIdx */
    int linear;      /* x + y * bx + z * bx * by */
    int lane, warp;  /* linear % 32, linear / 32 */
} snemu_thread;

/* What a warp-level operation exchanges: every lane's operand registers. */
typedef struct snemu_warp_area {
    unsigned a[32][4];
    unsigned b[32][2];
} snemu_warp_area;

typedef struct snemu_abi {
    int version;
    snemu_thread *cur; /* the running thread */
    snemu_uint3 block_idx, block_dim, grid_dim;
    void (*syncthreads)(void);     /* block barrier */
    void (*warp_rendezvous)(void); /* waits until every lane of the warp arrives */
    snemu_warp_area *(*warp_area)(void);
    void (*fail)(const char *what); /* ends the launch with an error (a trap) */
} snemu_abi;
/* SNEMU_ABI_END */

#ifndef SNEMU_ABI_ONLY

#define SNNC_CUDA_EMULATED 1

static snemu_abi *snemu;

#define SNEMU_EXPORT extern "C" __attribute__((visibility("default")))

SNEMU_EXPORT int snemu_bind(snemu_abi *abi) {
    snemu = abi;
    return SNEMU_ABI_VERSION;
}

/* the block's shared memory: [begin, end) of this object's snemu_shared section */
extern "C" char __start_snemu_shared[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_snemu_shared[] __attribute__((weak, visibility("hidden")));
SNEMU_EXPORT void snemu_shared_range(char **begin, char **end) {
    *begin = __start_snemu_shared;
    *end = __stop_snemu_shared;
}

/* ---- the language ------------------------------------------------------------------------ */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__    __attribute__((noinline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __shared__ static __attribute__((section("snemu_shared"), aligned(16)))

typedef snemu_uint3 uint3;
typedef snemu_uint3 dim3;
#define threadIdx (snemu->cur->idx)
#define blockIdx  (snemu->block_idx)
#define blockDim  (snemu->block_dim)
#define gridDim   (snemu->grid_dim)
#define warpSize  32

/* the empty asm statements keep the compiler from carrying shared-memory values in
 * registers across the barrier */
static inline void __syncthreads(void) {
    __asm__ __volatile__("" ::: "memory");
    snemu->syncthreads();
    __asm__ __volatile__("" ::: "memory");
}

static inline void __trap(void) {
    snemu->fail("__trap() called");
}

/* ---- bit casts and explicitly rounded arithmetic --------------------------------------- */
template <typename To, typename From> static inline To snemu_bits(From f) {
    static_assert(sizeof(To) == sizeof(From), "bit cast between types of different sizes");
    To t;
    __builtin_memcpy(&t, &f, sizeof t);
    return t;
}
static inline float __int_as_float(int x) {
    return snemu_bits<float>(x);
}
static inline float __uint_as_float(unsigned x) {
    return snemu_bits<float>(x);
}
static inline int __float_as_int(float x) {
    return snemu_bits<int>(x);
}
static inline unsigned __float_as_uint(float x) {
    return snemu_bits<unsigned>(x);
}
static inline double __longlong_as_double(long long x) {
    return snemu_bits<double>(x);
}
static inline long long __double_as_longlong(double x) {
    return snemu_bits<long long>(x);
}

static inline float __fadd_rn(float a, float b) {
    return a + b;
}
static inline float __fsub_rn(float a, float b) {
    return a - b;
}
static inline float __fmul_rn(float a, float b) {
    return a * b;
}
static inline float __fdiv_rn(float a, float b) {
    return a / b;
}
static inline float __fsqrt_rn(float a) {
    return __builtin_sqrtf(a);
}
static inline float __frcp_rn(float a) {
    return 1.0f / a;
}
static inline float __fmaf_rn(float a, float b, float c) {
    return __builtin_fmaf(a, b, c);
}
static inline double __dadd_rn(double a, double b) {
    return a + b;
}
static inline double __dsub_rn(double a, double b) {
    return a - b;
}
static inline double __dmul_rn(double a, double b) {
    return a * b;
}
static inline double __ddiv_rn(double a, double b) {
    return a / b;
}
static inline double __fma_rn(double a, double b, double c) {
    return __builtin_fma(a, b, c);
}

/* ---- math (CUDA's overloads: the float forms return float) ------------------------------ */
#define SNEMU_MATH1(name)                                                                          \
    static inline double name(double x) {                                                          \
        return __builtin_##name(x);                                                                \
    }                                                                                              \
    static inline float name(float x) {                                                            \
        return __builtin_##name##f(x);                                                             \
    }                                                                                              \
    static inline float name##f(float x) {                                                         \
        return __builtin_##name##f(x);                                                             \
    }
SNEMU_MATH1(floor)
SNEMU_MATH1(ceil)
SNEMU_MATH1(trunc)
SNEMU_MATH1(round)
SNEMU_MATH1(rint)
SNEMU_MATH1(fabs)
SNEMU_MATH1(sqrt)
SNEMU_MATH1(exp)
SNEMU_MATH1(exp2)
SNEMU_MATH1(log)
SNEMU_MATH1(log2)
SNEMU_MATH1(tanh)
SNEMU_MATH1(atan)
SNEMU_MATH1(sin)
SNEMU_MATH1(cos)
#undef SNEMU_MATH1
static inline float rsqrtf(float x) {
    return 1.0f / __builtin_sqrtf(x);
}
static inline double pow(double a, double b) {
    return __builtin_pow(a, b);
}
static inline float powf(float a, float b) {
    return __builtin_powf(a, b);
}
static inline float fminf(float a, float b) {
    return __builtin_fminf(a, b);
}
static inline float fmaxf(float a, float b) {
    return __builtin_fmaxf(a, b);
}
static inline double fmin(double a, double b) {
    return __builtin_fmin(a, b);
}
static inline double fmax(double a, double b) {
    return __builtin_fmax(a, b);
}
static inline bool isnan(float x) {
    return x != x;
}
static inline bool isnan(double x) {
    return x != x;
}
/* min / max: CUDA has them for every pair of integer types; floats as fminf / fmaxf */
template <typename A, typename B> static inline auto min(A a, B b) -> decltype(a + b) {
    return b < a ? b : a;
}
template <typename A, typename B> static inline auto max(A a, B b) -> decltype(a + b) {
    return a < b ? b : a;
}
static inline float min(float a, float b) {
    return __builtin_fminf(a, b);
}
static inline float max(float a, float b) {
    return __builtin_fmaxf(a, b);
}
static inline double min(double a, double b) {
    return __builtin_fmin(a, b);
}
static inline double max(double a, double b) {
    return __builtin_fmax(a, b);
}

/* ---- atomics: threads of a block switch only at barriers, and blocks run one after
 * another, so a read-modify-write is indivisible as it stands --------------------------- */
#define SNEMU_ATOMIC(T)                                                                            \
    static inline T atomicAdd(T *p, T v) {                                                         \
        T o = *p;                                                                                  \
        *p = o + v;                                                                                \
        return o;                                                                                  \
    }                                                                                              \
    static inline T atomicExch(T *p, T v) {                                                        \
        T o = *p;                                                                                  \
        *p = v;                                                                                    \
        return o;                                                                                  \
    }
SNEMU_ATOMIC(int)
SNEMU_ATOMIC(unsigned)
SNEMU_ATOMIC(unsigned long long)
SNEMU_ATOMIC(float)
SNEMU_ATOMIC(double)
#undef SNEMU_ATOMIC
#define SNEMU_ATOMIC_MINMAX(T)                                                                     \
    static inline T atomicMax(T *p, T v) {                                                         \
        T o = *p;                                                                                  \
        if (v > o) *p = v;                                                                         \
        return o;                                                                                  \
    }                                                                                              \
    static inline T atomicMin(T *p, T v) {                                                         \
        T o = *p;                                                                                  \
        if (v < o) *p = v;                                                                         \
        return o;                                                                                  \
    }                                                                                              \
    static inline T atomicCAS(T *p, T cmp, T v) {                                                  \
        T o = *p;                                                                                  \
        if (o == cmp) *p = v;                                                                      \
        return o;                                                                                  \
    }
SNEMU_ATOMIC_MINMAX(int)
SNEMU_ATOMIC_MINMAX(unsigned)
SNEMU_ATOMIC_MINMAX(unsigned long long)
#undef SNEMU_ATOMIC_MINMAX
static inline void __threadfence(void) {}
static inline void __threadfence_block(void) {}

/* ---- the tensor-core instructions of the prelude, from the PTX ISA ---------------------- */

/* cvt.rna.tf32.f32: round to nearest, ties away from zero, to 10 explicit significand bits;
 * NaN stays NaN, infinities stay, a carry into the exponent rounds up to the next binade
 * (or to infinity) as the encoding does. */
static inline unsigned sn_to_tf32(float x) {
    unsigned u = __float_as_uint(x);
    if ((u & 0x7f800000u) == 0x7f800000u) return (u & 0x007fffffu) ? 0x7fffffffu : u;
    return (u + 0x1000u) & 0xffffe000u;
}

/* cvt.rn.bf16x2.f32 d, hi, lo: each to bf16, nearest even; hi in the upper half of d */
static inline unsigned snemu_bf16(float x) {
    unsigned u = __float_as_uint(x);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return 0x7fffu;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
static inline unsigned sn_pack_bf16(float lo, float hi) {
    return (snemu_bf16(hi) << 16) | snemu_bf16(lo);
}

/* The operands as the tensor core reads them: a TF32 register's top 19 bits, a BF16 half. */
static inline float snemu_tf32_value(unsigned r) {
    return __uint_as_float(r & 0xffffe000u);
}
static inline float snemu_bf16_value(unsigned r, int hi) {
    return __uint_as_float((hi ? (r >> 16) : (r & 0xffffu)) << 16);
}

/* PTX ISA fragment layouts, with g = lane / 4 ("groupID"), t = lane % 4
 * ("threadID_in_group"). Accumulators of both shapes (16 x 8, fp32): register r of lane
 * holds D[g + 8 * (r / 2)][2 t + r % 2]. */
static inline void snemu_c_pos(int lane, int r, int *row, int *col) {
    *row = lane / 4 + 8 * (r / 2);
    *col = 2 * (lane % 4) + r % 2;
}

/* m16n8k8, .tf32: A (16 x 8, row) register r of lane holds A[g + 8 (r % 2)][t + 4 (r / 2)];
 * B (8 x 8, col) register r holds B[t + 4 r][g]. Inverted: which (lane, register) holds an
 * element. */
static inline void snemu_tf32_a_at(int row, int k, int *lane, int *reg) {
    *lane = (row % 8) * 4 + k % 4;
    *reg = row / 8 + 2 * (k / 4);
}
static inline void snemu_tf32_b_at(int k, int col, int *lane, int *reg) {
    *lane = col * 4 + k % 4;
    *reg = k / 4;
}

/* m16n8k16, .bf16 (two elements per 32-bit register, the lower-indexed in the low half):
 * A (16 x 16, row) element i (register i / 2) of lane is A[g + 8 ((i / 2) % 2)][2 t + i % 2
 * + 8 (i / 4)]; B (16 x 8, col) element i is B[2 t + i % 2 + 8 (i / 2)][g]. */
static inline void snemu_bf16_a_at(int row, int k, int *lane, int *reg, int *hi) {
    *lane = (row % 8) * 4 + (k % 8) / 2;
    *reg = row / 8 + 2 * (k / 8);
    *hi = k % 2;
}
static inline void snemu_bf16_b_at(int k, int col, int *lane, int *reg, int *hi) {
    *lane = col * 4 + (k % 8) / 2;
    *reg = k / 8;
    *hi = k % 2;
}

/* D = A B + C for the warp: every lane deposits its A and B registers, meets the others,
 * computes its own four accumulators (products exact in fp32 for both input types, summed
 * in k order onto C), and meets them again before the area is reused. */
static inline void snemu_mma_deposit(const unsigned *a, const unsigned *b, snemu_warp_area **wa) {
    snemu_warp_area *w = snemu->warp_area();
    const int lane = snemu->cur->lane;
    for (int r = 0; r < 4; r++) w->a[lane][r] = a[r];
    for (int r = 0; r < 2; r++) w->b[lane][r] = b[r];
    snemu->warp_rendezvous();
    *wa = w;
}

/* The operand values of lane `lane`'s share of an m16n8kK tile, as the layouts above map
 * them (K = 8: TF32, K = 16: BF16). */
template <int K> static inline float snemu_a(const snemu_warp_area *w, int row, int k) {
    int lane, reg, hi;
    if (K == 8) {
        snemu_tf32_a_at(row, k, &lane, &reg);
        return snemu_tf32_value(w->a[lane][reg]);
    }
    snemu_bf16_a_at(row, k, &lane, &reg, &hi);
    return snemu_bf16_value(w->a[lane][reg], hi);
}
template <int K> static inline float snemu_b(const snemu_warp_area *w, int k, int col) {
    int lane, reg, hi;
    if (K == 8) {
        snemu_tf32_b_at(k, col, &lane, &reg);
        return snemu_tf32_value(w->b[lane][reg]);
    }
    snemu_bf16_b_at(k, col, &lane, &reg, &hi);
    return snemu_bf16_value(w->b[lane][reg], hi);
}

template <int K> static inline void snemu_mma(float *c, const unsigned *a, const unsigned *b) {
    snemu_warp_area *w;
    snemu_mma_deposit(a, b, &w);
    const int lane = snemu->cur->lane;
    float d[4];
    for (int r = 0; r < 4; r++) {
        int row, col;
        snemu_c_pos(lane, r, &row, &col);
        float acc = c[r];
        for (int k = 0; k < K; k++) acc += snemu_a<K>(w, row, k) * snemu_b<K>(w, k, col);
        d[r] = acc;
    }
    snemu->warp_rendezvous();
    for (int r = 0; r < 4; r++) c[r] = d[r];
}

static inline void sn_mma_m16n8k8_tf32(float *c, const unsigned *a, const unsigned *b) {
    snemu_mma<8>(c, a, b);
}

static inline void sn_mma_m16n8k16_bf16(float *c, const unsigned *a, const unsigned *b) {
    snemu_mma<16>(c, a, b);
}

/* ---- entry points: the NVRTC stand-in appends SNEMU_ENTRY(kernel, launch bounds) for each
 * extern "C" __global__ function it finds; the driver calls snemu_entry_<kernel>(params)
 * on every thread, params as cuLaunchKernel receives them (one pointer per argument) ---- */
template <unsigned long... I> struct snemu_seq {};
template <unsigned long N, unsigned long... I>
struct snemu_make_seq : snemu_make_seq<N - 1, N - 1, I...> {};
template <unsigned long... I> struct snemu_make_seq<0, I...> { typedef snemu_seq<I...> type; };
template <typename... A, unsigned long... I>
static inline void snemu_call(void (*f)(A...), void **p, snemu_seq<I...>) {
    f(*(A *)p[I]...);
}
template <typename... A> static inline void snemu_invoke(void (*f)(A...), void **p) {
    snemu_call(f, p, typename snemu_make_seq<sizeof...(A)>::type());
}
#define SNEMU_ENTRY(k, bounds)                                                                     \
    SNEMU_EXPORT void snemu_entry_##k(void **p) {                                                  \
        snemu_invoke(k, p);                                                                        \
    }                                                                                              \
    SNEMU_EXPORT const int snemu_bounds_##k = (bounds);

#endif /* SNEMU_ABI_ONLY */
#endif
