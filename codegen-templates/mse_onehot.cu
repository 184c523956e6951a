// mse_onehot.cu: mean squared error against one-hot labels (runtime/ref/loss.c), forward
// and gradient: one thread per row writes the row's sum of (logits - onehot)^2 (double) to
// rowloss and, when grad is not null, 2 (logits - onehot) / (N*K). The mean over N*K
// follows as ordered_sum.cu over rowloss (rows in order). A label outside [0, K) gives NaN
// (loss and that row's gradient).
//
// Slots: KERNEL, N, K. Grid-stride over rows; any grid.

constexpr i64 NR = {{N}};
constexpr int K = {{K}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ logits,
                                      const int *__restrict__ labels, float *__restrict__ grad,
                                      double *__restrict__ rowloss) {
    const double nan = __longlong_as_double(0x7ff8000000000000ll);
    const double cnt = (double)NR * (double)K;
    for (i64 n = (i64)blockIdx.x * blockDim.x + threadIdx.x; n < NR;
         n += (i64)gridDim.x * blockDim.x) {
        const int label = labels[n];
        const bool ok = label >= 0 && label < K;
        double s = 0.0;
        for (int j = 0; j < K; j++) {
            const double d = (double)logits[n * K + j] - (j == label ? 1.0 : 0.0);
            s = __dadd_rn(s, __dmul_rn(d, d));
            if (grad) grad[n * K + j] = ok ? (float)(2.0 * d / cnt) : (float)nan;
        }
        rowloss[n] = ok ? s : nan;
    }
}
