/* Reference element-wise ops: ReLU, dropout, activation quantization Q(k,B), ternary
 * weights, and their gradients. */
#include "ref_ops.h"

#include <math.h>
#include <stddef.h>

#include "../core/rng.h"

/* NaN passes through (x <= 0 is false), as torch.relu. */
void sn_ref_relu(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] <= 0.0f) ? 0.0f : x[i];
}

void sn_ref_relu_backward(int64_t n, const float *x, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] = (x[i] <= 0.0f) ? 0.0f : dy[i];
}

/* The scale 1/(1 - p) is computed in float, as PyTorch does on a float tensor. p >= 1 drops
 * everything (y = 0, as torch's dropout with p = 1). */
void sn_ref_dropout(int64_t n, float p, int training, uint64_t seed, uint64_t stream,
                    const float *x, float *y, uint8_t *mask) {
    sn_ref_dropout_part(n, p, training, seed, stream, n, 1, 0, 1, x, y, mask);
}

void sn_ref_dropout_part(int64_t n, float p, int training, uint64_t seed, uint64_t stream,
                         int64_t per, int64_t nl, int64_t s0, int64_t ng, const float *x, float *y,
                         uint8_t *mask) {
    if (!training) {
        for (int64_t i = 0; i < n; i++) {
            y[i] = x[i];
            if (mask) mask[i] = 1;
        }
        return;
    }
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (int64_t i = 0; i < n; i++) {
        uint64_t gi = sn_batch_index((uint64_t)i, per, nl, s0, ng);
        int keep = p < 1.0f && sn_rand_u01(seed, stream, gi) >= p;
        y[i] = keep ? x[i] * scale : 0.0f;
        if (mask) mask[i] = (uint8_t)keep;
    }
}

void sn_ref_dropout_backward(int64_t n, float p, const uint8_t *mask, const float *dy, float *dx) {
    if (!mask) {
        for (int64_t i = 0; i < n; i++) dx[i] = dy[i];
        return;
    }
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (int64_t i = 0; i < n; i++) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

/* In double, 2^k * x is exact (a power-of-two scaling) and so is + 0.5 unless 2^k * x is so
 * small that the result is 0 either way, so floor() sees the exact value and ties go up.
 * NaN propagates, as torch.clamp. */
void sn_ref_quant(int64_t n, const sn_quant_params *p, const float *x, float *y) {
    double scale = ldexp(1.0, p->k), B = (double)p->B;
    for (int64_t i = 0; i < n; i++) {
        double v = (double)x[i];
        if (isnan(v)) {
            y[i] = x[i];
            continue;
        }
        if (v < 0.0) v = 0.0;
        if (v > B) v = B;
        y[i] = (float)(floor(scale * v + 0.5) / scale);
    }
}

void sn_ref_quant_backward(int64_t n, const sn_quant_params *p, const float *x, const float *dy,
                           float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] = (x[i] > 0.0f && x[i] < p->B) ? dy[i] : 0.0f;
}

/* delta = threshold_factor * mean|w|, with the mean and the product in double (the
 * comparison |w| > delta is made in double too). */
void sn_ref_ternary(int64_t n, float threshold_factor, const float *w, float *wt) {
    if (n <= 0) return;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += fabs((double)w[i]);
    double delta = (double)threshold_factor * (sum / (double)n);
    for (int64_t i = 0; i < n; i++) {
        double a = fabs((double)w[i]);
        wt[i] = a > delta ? (w[i] > 0.0f ? 1.0f : -1.0f) : 0.0f;
    }
}
