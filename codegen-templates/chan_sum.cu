// chan_sum.cu: per-channel sums of an NCHW tensor in double, one block per channel: the
// bias gradient of a convolution (sum over images and pixels of dy) or of a linear layer
// (HW = 1: the column sums of dy).
//
// Slots: KERNEL, N, C, HW, THREADS (the block size, a power of two). Grid: C.

constexpr i64 NB = {{N}};
constexpr int C = {{C}};
constexpr i64 HW = {{HW}};
constexpr int NT = {{THREADS}};

extern "C" __global__ void __launch_bounds__({{THREADS}})
{{KERNEL}}(const float *__restrict__ x, float *__restrict__ y) {
    __shared__ double scratch[NT];
    sn_block_is(NT);
    const int c = blockIdx.x;
    double s = 0.0;
    for (i64 e = threadIdx.x; e < NB * HW; e += NT)
        s += (double)x[((e / HW) * C + c) * HW + e % HW];
    s = sn_block_sum(s, scratch);
    if (threadIdx.x == 0) y[c] = (float)s;
}
