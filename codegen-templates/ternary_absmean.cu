// ternary_absmean.cu: the threshold of ternary weights, delta = FACTOR * mean |w|, in
// double (runtime/ref/elementwise.c sn_ref_ternary), by one block; written to delta[0]
// for ternary_apply.cu.
//
// Slots: KERNEL, NUMEL, FACTOR (double). Block: 256 threads; grid: 1.

constexpr i64 NUMEL = {{NUMEL}};

extern "C" __global__ void __launch_bounds__(256)
{{KERNEL}}(const float *__restrict__ w, double *__restrict__ delta) {
    __shared__ double scratch[256];
    double s = 0.0;
    for (i64 i = threadIdx.x; i < NUMEL; i += blockDim.x) s += fabs((double)w[i]);
    s = sn_block_sum(s, scratch);
    if (threadIdx.x == 0) delta[0] = {{FACTOR}} * (s / (double)NUMEL);
}
