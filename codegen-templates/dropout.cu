// dropout.cu: dropout forward and backward (they are the same function of the element):
// keep = !training || (P < 1 && u >= P) with u = sn_rand_u01(seed, STREAM, i), the
// number the reference draws (runtime/ref/elementwise.c); y = keep ? (training ? x * scale
// : x) : 0, scale = 1 / (1 - P) in float. The backward regenerates the forward's mask.
//
// Slots: KERNEL, NUMEL, P, SCALE, STREAM (64-bit stream id). Run-time arguments: the run's
// seed and the training flag. Grid-stride loop.

constexpr i64 NUMEL = {{NUMEL}};
constexpr float P = {{P}};
constexpr float SCALE = {{SCALE}};
constexpr u64 STREAM = {{STREAM}}ull;

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, float *__restrict__ y, u64 seed,
                                      int training) {
    const u32 key = sn_rand_key(seed, STREAM);
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x) {
        const bool keep = !training || (P < 1.0f && sn_rand_u01_key(key, (u32)i) >= P);
        y[i] = keep ? (training ? __fmul_rn(x[i], SCALE) : x[i]) : 0.0f;
    }
}
