// softmax_ce.cu: softmax cross-entropy with label smoothing EPS (PyTorch
// CrossEntropyLoss, mean over N; runtime/ref/loss.c), forward and gradient in one
// template: one thread per row (max, log-sum-exp and the smoothed sum in double) writes the
// row's loss to rowloss (N doubles) and, when grad ([N, K]) is not null, d(mean loss)/d
// logits. The mean loss follows as ordered_sum.cu over rowloss (rows added in order, the
// reference's order). A label outside [0, K) gives NaN.
//
// Slots: KERNEL, N, K, EPS (double). Grid-stride over rows; any grid.

constexpr i64 NR = {{N}};
constexpr int K = {{K}};
constexpr double EPS = {{EPS}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ logits,
                                      const int *__restrict__ labels, float *__restrict__ grad,
                                      double *__restrict__ rowloss) {
    const double nan = __longlong_as_double(0x7ff8000000000000ll);
    for (i64 n = (i64)blockIdx.x * blockDim.x + threadIdx.x; n < NR;
         n += (i64)gridDim.x * blockDim.x) {
        const float *z = logits + n * K;
        const int label = labels[n];
        if (label < 0 || label >= K) {
            rowloss[n] = nan;
            if (grad)
                for (int j = 0; j < K; j++) grad[n * K + j] = (float)nan;
            continue;
        }
        double mx = __longlong_as_double((long long)0xfff0000000000000ull);
        for (int j = 0; j < K; j++)
            if ((double)z[j] > mx) mx = (double)z[j];
        double se = 0.0;
        for (int j = 0; j < K; j++) se += exp((double)z[j] - mx);
        const double lse = mx + log(se);
        double l = (1.0 - EPS) * (lse - (double)z[label]);
        if (EPS > 0.0) {
            double s = 0.0;
            for (int j = 0; j < K; j++) s += lse - (double)z[j];
            l += EPS * s / K;
        }
        rowloss[n] = l;
        if (grad)
            for (int j = 0; j < K; j++) {
                const double q = (j == label ? 1.0 - EPS : 0.0) + EPS / K;
                const double pj = exp((double)z[j] - lse);
                grad[n * K + j] = (float)((pj - q) / (double)NR);
            }
    }
}
