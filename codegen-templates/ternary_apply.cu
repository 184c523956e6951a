// ternary_apply.cu: wt = sign(w) where |w| > delta (compared in double), else 0.
//
// Slots: KERNEL, NUMEL.

constexpr i64 NUMEL = {{NUMEL}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ w, const double *__restrict__ delta,
                                      float *__restrict__ wt) {
    const double d = delta[0];
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x)
        wt[i] = fabs((double)w[i]) > d ? (w[i] > 0.0f ? 1.0f : -1.0f) : 0.0f;
}
