// encode_poisson.cu: the Poisson encoder, s[t, i] = (u <= x[i]) ? 1 : 0 with
// u = sn_rand_u01(sn_mix64(seed ^ STREAM), t, i), the reference's numbers
// (runtime/ref/encode.c and its plan step). Inputs outside [0, 1] (or NaN) are counted in
// *bad (when not null) so the caller can reject the batch.
//
// Slots: KERNEL, NUMEL, T, STREAM. Run-time argument: the run's seed.

constexpr i64 NUMEL = {{NUMEL}};
constexpr int T = {{T}};
constexpr u64 STREAM = {{STREAM}}ull;

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, float *__restrict__ s,
                                      unsigned long long *bad, u64 seed) {
    const u64 run = sn_mix64(seed ^ STREAM);
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x) {
        const float v = x[i];
        if (bad && !(v >= 0.0f && v <= 1.0f)) atomicAdd(bad, 1ull);
        for (int t = 0; t < T; t++)
            s[(i64)t * NUMEL + i] = sn_rand_u01_key(sn_rand_key(run, (u64)t), (u32)i) <= v ? 1.0f : 0.0f;
    }
}
