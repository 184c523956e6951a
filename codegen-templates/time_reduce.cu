// time_reduce.cu: element-wise work along the leading time axis of [T, n] tensors, one
// thread per element i < n: the mean over T (forward), its gradient, and the direct
// encoder's gradient (the sum over T). Sums run in double in t order, as the reference
// (runtime/ref/encode.c).
//
// Slots: KERNEL, NUMEL (n), T, BODY (statements; i, x, y in scope).

constexpr i64 NUMEL = {{NUMEL}};
constexpr int T = {{T}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, float *__restrict__ y) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x) {
{{BODY}}
    }
}
