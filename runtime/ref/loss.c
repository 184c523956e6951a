/* Reference losses and top-k accuracy. Sums in double. A label outside [0, K) makes the
 * returned loss NaN (and that row's gradient NaN); the caller validates labels first. */
#include "ref_ops.h"

#include <math.h>
#include <stddef.h>

double sn_ref_softmax_ce(int64_t N, int K, const float *logits, const int32_t *labels,
                         float smoothing, float *grad) {
    if (N <= 0) return 0.0;
    double eps = (double)smoothing, total = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *z = logits + n * K;
        int32_t label = labels[n];
        if (label < 0 || label >= K) {
            total = NAN;
            if (grad)
                for (int j = 0; j < K; j++) grad[n * K + j] = NAN;
            continue;
        }
        double mx = -INFINITY;
        for (int j = 0; j < K; j++)
            if ((double)z[j] > mx) mx = (double)z[j];
        double se = 0.0;
        for (int j = 0; j < K; j++) se += exp((double)z[j] - mx);
        double lse = mx + log(se);
        /* (1 - eps) * nll + eps * mean_j(-log p_j); the smoothing sum only when eps > 0, so
         * that a -inf logit off the label does not turn 0 * inf into NaN (as PyTorch). */
        double loss = (1.0 - eps) * (lse - (double)z[label]);
        if (eps > 0.0) {
            double s = 0.0;
            for (int j = 0; j < K; j++) s += lse - (double)z[j];
            loss += eps * s / K;
        }
        total += loss;
        if (grad)
            for (int j = 0; j < K; j++) {
                double q = (j == label ? 1.0 - eps : 0.0) + eps / K;
                double pj = exp((double)z[j] - lse);
                grad[n * K + j] = (float)((pj - q) / (double)N);
            }
    }
    return total / (double)N;
}

double sn_ref_mse_onehot(int64_t N, int K, const float *x, const int32_t *labels, float *grad) {
    if (N <= 0 || K <= 0) return 0.0;
    double cnt = (double)N * (double)K, total = 0.0;
    for (int64_t n = 0; n < N; n++) {
        int32_t label = labels[n];
        int ok = label >= 0 && label < K;
        if (!ok) total = NAN;
        for (int j = 0; j < K; j++) {
            double d = (double)x[n * K + j] - (j == label ? 1.0 : 0.0);
            total += d * d;
            if (grad) grad[n * K + j] = ok ? (float)(2.0 * d / cnt) : NAN;
        }
    }
    return total / cnt;
}

/* Does (a at index i) rank before (b at index j)? Larger first, NaN largest (torch.topk),
 * ties toward the lower index. */
static int ranks_before(float a, int i, float b, int j) {
    int an = isnan(a), bn = isnan(b);
    if (an || bn) return an && (!bn || i < j);
    if (a != b) return a > b;
    return i < j;
}

int64_t sn_ref_topk_correct(int64_t N, int K, const float *logits, const int32_t *labels, int k) {
    int64_t correct = 0;
    for (int64_t n = 0; n < N; n++) {
        int32_t label = labels[n];
        if (label < 0 || label >= K) continue;
        const float *z = logits + n * K;
        int rank = 0; /* how many entries rank before the label's */
        for (int j = 0; j < K; j++)
            if (j != label && ranks_before(z[j], j, z[label], label)) rank++;
        if (rank < k) correct++;
    }
    return correct;
}
