// bn_bwd_dx.cu: the data gradient of training batch norm, elementwise in double:
// dx = gamma * invstd / m * (m * dy - sum dy - xhat * sum dy*xhat) (runtime/ref/batchnorm.c),
// with the sums from bn_bwd_reduce.cu. gamma may be null.
//
// Slots: KERNEL, N, C, HW.

constexpr i64 NB = {{N}};
constexpr int C = {{C}};
constexpr i64 HW = {{HW}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, const float *__restrict__ dy,
                                      const float *__restrict__ gamma,
                                      const float *__restrict__ save_mean,
                                      const float *__restrict__ save_invstd,
                                      const double *__restrict__ sums, float *__restrict__ dx) {
    const double m = (double)NB * (double)HW;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NB * C * HW;
         i += (i64)gridDim.x * blockDim.x) {
        const int c = (int)((i / HW) % C);
        const double mean = (double)save_mean[c], invstd = (double)save_invstd[c];
        const double g = gamma ? (double)gamma[c] : 1.0;
        const double xhat = ((double)x[i] - mean) * invstd;
        const double t = __dsub_rn(__dsub_rn(__dmul_rn(m, (double)dy[i]), sums[2 * c]),
                                   __dmul_rn(xhat, sums[2 * c + 1]));
        dx[i] = (float)(g * invstd / m * t);
    }
}
