// bn_train_stats.cu: training-mode batch norm statistics, one block per channel
// (runtime/ref/batchnorm.c): mean and biased variance over the m = N*HW values (two
// passes, double, a fixed reduction tree), the running statistics updated with the
// unbiased variance and PyTorch's momentum, num_batches_tracked incremented, and the
// per-channel constants of the shared "normalize" definition that the following
// elementwise kernel applies, y = ((x - hi) - lo) * s + b (see bn_fold.cu): the double
// mean as a float pair hi + lo, s = invstd * gamma rounded once, b = beta.
//
// Slots: KERNEL, N (images), C, HW, EPS, MOMENTUM (doubles), THREADS (the block size, a power
// of two). Grid: C.
// gamma, beta, running_mean, running_var and count may be null.

constexpr i64 NB = {{N}};
constexpr int C = {{C}};
constexpr i64 HW = {{HW}};
constexpr int NT = {{THREADS}};

extern "C" __global__ void __launch_bounds__({{THREADS}})
{{KERNEL}}(const float *__restrict__ x, const float *__restrict__ gamma,
           const float *__restrict__ beta, float *__restrict__ running_mean,
           float *__restrict__ running_var, long long *__restrict__ count,
           float *__restrict__ save_mean, float *__restrict__ save_invstd,
           float *__restrict__ bnp) {
    __shared__ double scratch[NT];
    sn_block_is(NT);
    const int c = blockIdx.x, tid = threadIdx.x;
    const double m = (double)NB * (double)HW;
    double s = 0.0;
    for (i64 e = tid; e < NB * HW; e += NT)
        s += (double)x[((e / HW) * C + c) * HW + e % HW];
    const double mean = sn_block_sum(s, scratch) / m;
    double ss = 0.0;
    for (i64 e = tid; e < NB * HW; e += NT) {
        const double d = (double)x[((e / HW) * C + c) * HW + e % HW] - mean;
        ss = __dadd_rn(ss, __dmul_rn(d, d));
    }
    ss = sn_block_sum(ss, scratch);
    if (tid != 0) return;
    const double var = ss / m;
    const double invstd = 1.0 / sqrt(var + {{EPS}});
    const double g = gamma ? (double)gamma[c] : 1.0;
    const double mom = {{MOMENTUM}};
    if (running_mean) running_mean[c] = (float)((1.0 - mom) * (double)running_mean[c] + mom * mean);
    if (running_var)
        running_var[c] = (float)((1.0 - mom) * (double)running_var[c] + mom * (ss / (m - 1.0)));
    if (count && c == 0) *count += 1;
    save_mean[c] = (float)mean;
    save_invstd[c] = (float)invstd;
    const float hi = (float)mean;
    bnp[4 * c] = hi;
    bnp[4 * c + 1] = (float)(mean - (double)hi);
    bnp[4 * c + 2] = (float)(invstd * g);
    bnp[4 * c + 3] = beta ? beta[c] : 0.0f;
}
