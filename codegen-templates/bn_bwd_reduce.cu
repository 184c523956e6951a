// bn_bwd_reduce.cu: the per-channel sums of the training batch norm's gradient
// (runtime/ref/batchnorm.c), one block per channel: dbeta = sum dy, dgamma = sum dy * xhat
// with xhat = (x - mean) * invstd, in double. The sums are also kept in double (sums[2c],
// sums[2c+1]) for bn_bwd_dx.cu. dgamma / dbeta may be null.
//
// Slots: KERNEL, N, C, HW, THREADS (the block size, a power of two). Grid: C.

constexpr i64 NB = {{N}};
constexpr int C = {{C}};
constexpr i64 HW = {{HW}};
constexpr int NT = {{THREADS}};

extern "C" __global__ void __launch_bounds__({{THREADS}})
{{KERNEL}}(const float *__restrict__ x, const float *__restrict__ dy,
           const float *__restrict__ save_mean, const float *__restrict__ save_invstd,
           float *__restrict__ dgamma, float *__restrict__ dbeta, double *__restrict__ sums) {
    __shared__ double scratch[NT];
    sn_block_is(NT);
    const int c = blockIdx.x, tid = threadIdx.x;
    const double mean = (double)save_mean[c], invstd = (double)save_invstd[c];
    double sdy = 0.0, sdyx = 0.0;
    for (i64 e = tid; e < NB * HW; e += NT) {
        const i64 i = ((e / HW) * C + c) * HW + e % HW;
        const double xhat = ((double)x[i] - mean) * invstd;
        sdy += (double)dy[i];
        sdyx = __dadd_rn(sdyx, __dmul_rn((double)dy[i], xhat));
    }
    sdy = sn_block_sum(sdy, scratch);
    sdyx = sn_block_sum(sdyx, scratch);
    if (tid != 0) return;
    if (dbeta) dbeta[c] = (float)sdy;
    if (dgamma) dgamma[c] = (float)sdyx;
    sums[2 * c] = sdy;
    sums[2 * c + 1] = sdyx;
}
