// spike_drop.cu: spike deletion (the noise experiment, runtime/ref/encode.c): x holds
// spike counts, clamped to [0, U]; each of the c spikes of element i survives when
// sn_rand_u01_key(key, i*U + j) >= P, key = sn_rand_key(seed, STREAM).
//
// Slots: KERNEL, NUMEL, U, P, STREAM. Run-time argument: the run's seed.

constexpr i64 NUMEL = {{NUMEL}};
constexpr int U = {{U}};
constexpr float P = {{P}};
constexpr u64 STREAM = {{STREAM}}ull;

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, float *__restrict__ y, u64 seed) {
    const u32 key = sn_rand_key(seed, STREAM);
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x) {
        const float v = x[i];
        const int c = v >= (float)U ? U : v >= 1.0f ? (int)v : 0;
        int kept = 0;
        for (int j = 0; j < c; j++)
            kept += sn_rand_u01_key(key, (u32)((u64)i * (u64)U + (u64)j)) >= P;
        y[i] = (float)kept;
    }
}
