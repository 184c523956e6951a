// bn_fold.cu: inference batch norm's per-channel constants, computed once when the weights
// are bound, for the shared "normalize" elementwise definition that the conv / linear
// epilogue or an elementwise kernel then applies, ((v - hi) - lo) * s + b:
//   bnp[4c] = hi = mean, bnp[4c+1] = lo = 0 (the running mean is a float already),
//   bnp[4c+2] = s = gamma / sqrt(var + eps) (in double, rounded once), bnp[4c+3] = b = beta.
// Normalizing around the mean (rather than folding it into a shift, v * s + (b - mean * s))
// keeps a channel whose mean is large against its spread accurate: the subtraction is exact
// near the mean, where a folded shift would cancel against v * s and lose the mean's ulp.
// A layer's bias is added before (the shared "bias" definition). gamma / beta may be null
// (affine = false).
//
// Slots: KERNEL, C, EPS (double).

constexpr int C = {{C}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ gamma,
                                      const float *__restrict__ beta,
                                      const float *__restrict__ mean,
                                      const float *__restrict__ var, float *__restrict__ bnp) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double invstd = 1.0 / sqrt((double)var[c] + {{EPS}});
    const double g = gamma ? (double)gamma[c] : 1.0;
    bnp[4 * c] = mean[c];
    bnp[4 * c + 1] = 0.0f;
    bnp[4 * c + 2] = (float)(invstd * g);
    bnp[4 * c + 3] = beta ? beta[c] : 0.0f;
}
