// ternary_absmean.cu: the first step of the threshold of ternary weights, delta = FACTOR *
// mean |w| (runtime/ref/elementwise.c sn_ref_ternary): each block sums |w| in double over
// a fixed share of the elements (block b takes b * NT + t, then strides by the grid) and
// writes its sum to parts[b]; ordered_sum.cu then adds the parts in block order and stores
// delta for ternary_apply.cu. The split depends only on the grid the lowering chose, so the
// result is the same on every run.
//
// Slots: KERNEL, NUMEL, THREADS (the block size, a power of two). Grid: any (the number of
// parts).

constexpr i64 NUMEL = {{NUMEL}};
constexpr int NT = {{THREADS}};

extern "C" __global__ void __launch_bounds__({{THREADS}})
{{KERNEL}}(const float *__restrict__ w, double *__restrict__ parts) {
    __shared__ double scratch[NT];
    sn_block_is(NT);
    double s = 0.0;
    for (i64 i = (i64)blockIdx.x * NT + threadIdx.x; i < NUMEL; i += (i64)gridDim.x * NT)
        s += fabs((double)w[i]);
    s = sn_block_sum(s, scratch);
    if (threadIdx.x == 0) parts[blockIdx.x] = s;
}
