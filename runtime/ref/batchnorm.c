/* Reference BatchNorm over NCHW (statistics per channel over N and HW): the inference form,
 * the training form (batch statistics, running-stat update) and its gradient. gamma / beta
 * may be NULL (affine = false: 1 and 0). */
#include "ref_ops.h"

#include <math.h>
#include <stddef.h>

static inline int64_t bn_index(const sn_bn_params *p, int64_t n, int c, int64_t s) {
    return (n * p->C + c) * p->HW + s;
}

void sn_ref_batchnorm_infer(const sn_bn_params *p, const float *x, const float *gamma,
                            const float *beta, const float *mean, const float *var, float *y) {
    for (int c = 0; c < p->C; c++) {
        double invstd = 1.0 / sqrt((double)var[c] + (double)p->eps);
        double g = gamma ? (double)gamma[c] : 1.0, b = beta ? (double)beta[c] : 0.0;
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t s = 0; s < p->HW; s++) {
                int64_t i = bn_index(p, n, c, s);
                y[i] = (float)(((double)x[i] - (double)mean[c]) * invstd * g + b);
            }
    }
}

void sn_ref_batchnorm_train_forward(const sn_bn_params *p, const float *x, const float *gamma,
                                    const float *beta, float *running_mean, float *running_var,
                                    float *y, float *save_mean, float *save_invstd) {
    double m = (double)p->N * (double)p->HW;
    for (int c = 0; c < p->C; c++) {
        double sum = 0.0;
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t s = 0; s < p->HW; s++) sum += (double)x[bn_index(p, n, c, s)];
        double mean = sum / m;
        double ss = 0.0;
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t s = 0; s < p->HW; s++) {
                double d = (double)x[bn_index(p, n, c, s)] - mean;
                ss += d * d;
            }
        double var = ss / m; /* biased: normalizes */
        double invstd = 1.0 / sqrt(var + (double)p->eps);
        double g = gamma ? (double)gamma[c] : 1.0, b = beta ? (double)beta[c] : 0.0;
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t s = 0; s < p->HW; s++) {
                int64_t i = bn_index(p, n, c, s);
                y[i] = (float)(((double)x[i] - mean) * invstd * g + b);
            }
        double mom = (double)p->momentum;
        if (running_mean)
            running_mean[c] = (float)((1.0 - mom) * (double)running_mean[c] + mom * mean);
        if (running_var) {
            double unbiased = ss / (m - 1.0); /* NaN for m == 1 (0/0) */
            running_var[c] = (float)((1.0 - mom) * (double)running_var[c] + mom * unbiased);
        }
        if (save_mean) save_mean[c] = (float)mean;
        if (save_invstd) save_invstd[c] = (float)invstd;
    }
}

void sn_ref_batchnorm_backward(const sn_bn_params *p, const float *x, const float *dy,
                               const float *gamma, const float *save_mean, const float *save_invstd,
                               float *dx, float *dgamma, float *dbeta) {
    double m = (double)p->N * (double)p->HW;
    for (int c = 0; c < p->C; c++) {
        double mean = (double)save_mean[c], invstd = (double)save_invstd[c];
        double g = gamma ? (double)gamma[c] : 1.0;
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t s = 0; s < p->HW; s++) {
                int64_t i = bn_index(p, n, c, s);
                double xhat = ((double)x[i] - mean) * invstd;
                sdy += (double)dy[i];
                sdyx += (double)dy[i] * xhat;
            }
        if (dbeta) dbeta[c] = (float)sdy;
        if (dgamma) dgamma[c] = (float)sdyx;
        if (!dx) continue;
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t s = 0; s < p->HW; s++) {
                int64_t i = bn_index(p, n, c, s);
                double xhat = ((double)x[i] - mean) * invstd;
                dx[i] = (float)(g * invstd / m * (m * (double)dy[i] - sdy - xhat * sdyx));
            }
    }
}
