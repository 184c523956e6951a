// bn_fold.cu: inference batch norm as a per-channel scale and shift, computed once when
// the weights are bound: scale = gamma / sqrt(var + eps), shift = beta + (bias - mean) *
// scale (in double, rounded once), where bias is that of the convolution or linear layer
// the batch norm follows (null: none). The conv / linear epilogue or an elementwise kernel
// then applies v * scale + shift (the shared "affine" definition). gamma / beta may be
// null (affine = false).
//
// Slots: KERNEL, C, EPS (double).

constexpr int C = {{C}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ gamma,
                                      const float *__restrict__ beta,
                                      const float *__restrict__ mean,
                                      const float *__restrict__ var,
                                      const float *__restrict__ bias, float *__restrict__ scale,
                                      float *__restrict__ shift) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double invstd = 1.0 / sqrt((double)var[c] + {{EPS}});
    const double g = gamma ? (double)gamma[c] : 1.0, b = beta ? (double)beta[c] : 0.0;
    scale[c] = (float)(invstd * g);
    const double d = (bias ? (double)bias[c] : 0.0) - (double)mean[c];
    shift[c] = (float)(b + d * invstd * g);
}
