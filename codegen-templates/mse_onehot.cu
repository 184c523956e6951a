// mse_onehot.cu: mean squared error against one-hot labels (runtime/ref/loss.c), forward
// and gradient: loss (may be null) = mean over N*K of (logits - onehot)^2, grad (may be null)
// = 2 (logits - onehot) / (N*K). Row sums in double, added by thread 0 in row order. A label
// outside [0, K) gives NaN (loss and that row's gradient).
//
// Slots: KERNEL, N, K. Block: 256 threads; grid: 1.

constexpr i64 NR = {{N}};
constexpr int K = {{K}};

extern "C" __global__ void __launch_bounds__(256)
{{KERNEL}}(const float *__restrict__ logits, const int *__restrict__ labels,
           float *__restrict__ loss, float *__restrict__ grad, double *__restrict__ rowloss) {
    const double nan = __longlong_as_double(0x7ff8000000000000ll);
    const double cnt = (double)NR * (double)K;
    for (i64 n = threadIdx.x; n < NR; n += blockDim.x) {
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
    __syncthreads();
    if (threadIdx.x == 0 && loss) {
        double total = 0.0;
        for (i64 n = 0; n < NR; n++) total += rowloss[n];
        loss[0] = (float)(total / cnt);
    }
}
