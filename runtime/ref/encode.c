/* Reference input encoders (spec-neurons.md) and the mean over time, with gradients. */
#include "ref_ops.h"

#include "../core/rng.h"

/* An x outside [0, 1] (or NaN) is counted; its spikes still follow u <= x (never below 0,
 * always above 1, never for NaN). Note u can be exactly 0 (probability 2^-24 per draw), in
 * which case x = 0 fires, as torch.rand(...).le(x) does. */
int64_t sn_ref_encode_poisson(int T, int64_t n, uint64_t seed, const float *x, float *s) {
    return sn_ref_encode_poisson_at(0, T, n, seed, x, s);
}

int64_t sn_ref_encode_poisson_at(int t0, int T, int64_t n, uint64_t seed, const float *x,
                                 float *s) {
    return sn_ref_encode_poisson_part(0, t0, T, n, seed, x, s);
}

int64_t sn_ref_encode_poisson_part(uint64_t base, int t0, int T, int64_t n, uint64_t seed,
                                   const float *x, float *s) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(x[i] >= 0.0f && x[i] <= 1.0f)) bad++;
    for (int t = 0; t < T; t++)
        for (int64_t i = 0; i < n; i++)
            s[(int64_t)t * n + i] =
                (sn_rand_u01(seed, (uint64_t)(t0 + t), base + (uint64_t)i) <= x[i]) ? 1.0f : 0.0f;
    return bad;
}

void sn_ref_encode_direct(int T, int64_t n, const float *x, float *s) {
    for (int t = 0; t < T; t++)
        for (int64_t i = 0; i < n; i++) s[(int64_t)t * n + i] = x[i];
}

void sn_ref_spike_drop(int64_t n, int U, float p, uint32_t key, const float *x, float *y) {
    sn_ref_spike_drop_at(0, n, U, p, key, x, y);
}

void sn_ref_spike_drop_at(uint64_t base, int64_t n, int U, float p, uint32_t key, const float *x,
                          float *y) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        int c = v >= (float)U ? U : v >= 1.0f ? (int)v : 0;
        int kept = 0;
        for (int j = 0; j < c; j++)
            kept += sn_rand_u01_key(
                        key, (uint32_t)((base + (uint64_t)i) * (uint64_t)U + (uint64_t)j)) >= p;
        y[i] = (float)kept;
    }
}

void sn_ref_encode_direct_backward(int T, int64_t n, const float *ds, float *dx) {
    for (int64_t i = 0; i < n; i++) {
        double acc = 0.0;
        for (int t = 0; t < T; t++) acc += (double)ds[(int64_t)t * n + i];
        dx[i] = (float)acc;
    }
}

void sn_ref_time_mean(int T, int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) {
        double acc = 0.0;
        for (int t = 0; t < T; t++) acc += (double)x[(int64_t)t * n + i];
        y[i] = (float)(acc / T);
    }
}

void sn_ref_time_mean_backward(int T, int64_t n, const float *dy, float *dx) {
    for (int t = 0; t < T; t++)
        for (int64_t i = 0; i < n; i++) dx[(int64_t)t * n + i] = (float)((double)dy[i] / T);
}
