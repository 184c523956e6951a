// prelude.cuh: helpers every snnc CUDA kernel may use. The backend pastes this file in
// front of each rendered template, so a kernel's .cu file compiles on its own: NVRTC
// needs no include path and no toolkit headers at run time.

typedef long long i64;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SN_NEG_INF __int_as_float((int)0xff800000u)

// ---- counter-based random numbers: runtime/core/rng.h, bit for bit -------------------
__device__ __forceinline__ u64 sn_mix64(u64 x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

__device__ __forceinline__ u32 sn_hash32(u32 x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// the 32-bit key of a (seed, stream) pair (sn_rand_key)
__device__ __forceinline__ u32 sn_rand_key(u64 seed, u64 stream) {
    return (u32)(sn_mix64(seed ^ sn_mix64(stream)) >> 32);
}

// uniform in [0, 1) from the top 24 bits of hash32(key + index) (sn_rand_u01_key)
__device__ __forceinline__ float sn_rand_u01_key(u32 key, u32 index) {
    return (float)(sn_hash32(key + index) >> 8) * (1.0f / 16777216.0f);
}

// ---- tensor-core instructions (sm_80+, used by the tensor-core GEMM only) -------------
// The only inline PTX of any kernel. The test emulator (tests/emu) compiles kernels with a
// host C++ compiler and supplies its own definitions of exactly these four functions, from
// the PTX ISA's semantics; every other line of a kernel runs there as written.
#ifndef SNNC_CUDA_EMULATED
// fp32 -> tf32, rounded to nearest (ties away), in a 32-bit register
__device__ __forceinline__ u32 sn_to_tf32(float x) {
    u32 r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
}

// two fp32 -> a bf16 pair, rounded to nearest even; lo goes to the low half (the element
// with the lower index in an mma fragment)
__device__ __forceinline__ u32 sn_pack_bf16(float lo, float hi) {
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

// c += a b for one 16 x 8 x 8 tile, TF32 operands (a: 4 registers, b: 2, c: 4 floats per
// lane in the PTX ISA's fragment layouts for mma.m16n8k8, row-major A, column-major B)
__device__ __forceinline__ void sn_mma_m16n8k8_tf32(float *c, const u32 *a, const u32 *b) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// the same for one 16 x 8 x 16 tile of BF16 pairs (mma.m16n8k16)
__device__ __forceinline__ void sn_mma_m16n8k16_bf16(float *c, const u32 *a, const u32 *b) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif

// ---- deterministic block reductions (fixed tree order, independent of timing) ---------
// Sums v over a block of NT threads (NT a power of two <= 1024: the block's size, which the
// kernel declares with __launch_bounds__ and checks with sn_block_is) through the kernel's
// shared scratch[NT]; every thread gets the total. Tying the scratch array's length to NT
// in the type keeps the two from disagreeing.
template <int NT> __device__ __forceinline__ double sn_block_sum(double v, double (&scratch)[NT]) {
    static_assert(NT >= 1 && NT <= 1024 && (NT & (NT - 1)) == 0, "NT: a power of two");
    const int tid = threadIdx.x;
    scratch[tid] = v;
    __syncthreads();
    for (int s = NT / 2; s > 0; s >>= 1) {
        if (tid < s) scratch[tid] = scratch[tid] + scratch[tid + s];
        __syncthreads();
    }
    const double r = scratch[0];
    __syncthreads();
    return r;
}

// Stops a kernel launched with another block size than the NT it was written for (a
// lowering bug: the scratch arrays and the reduction tree assume NT threads).
__device__ __forceinline__ void sn_block_is(int nt) {
    if (blockDim.x != (unsigned)nt || blockDim.y != 1u || blockDim.z != 1u) __trap();
}
