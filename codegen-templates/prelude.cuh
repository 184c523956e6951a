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

// ---- tensor-core operand conversion (sm_80+, used by the tensor-core GEMM only) -------
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

// ---- deterministic block reductions (fixed tree order, independent of timing) ---------
// Sums v over the block (blockDim.x a power of two <= 1024); every thread gets the total.
__device__ __forceinline__ double sn_block_sum(double v, double *scratch) {
    const int tid = threadIdx.x;
    scratch[tid] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) scratch[tid] = scratch[tid] + scratch[tid + s];
        __syncthreads();
    }
    const double r = scratch[0];
    __syncthreads();
    return r;
}
