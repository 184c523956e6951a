/* Reference fully connected layer (weights [out, in]) and its gradient. */
#include "ref_ops.h"

#include <stddef.h>

void sn_ref_linear(const sn_linear_params *p, const float *x, const float *w, const float *b,
                   float *y) {
    for (int64_t n = 0; n < p->N; n++)
        for (int m = 0; m < p->M; m++) {
            double acc = (p->has_bias && b) ? (double)b[m] : 0.0;
            for (int k = 0; k < p->K; k++)
                acc += (double)x[n * p->K + k] * (double)w[(int64_t)m * p->K + k];
            y[n * p->M + m] = (float)acc;
        }
}

void sn_ref_linear_backward(const sn_linear_params *p, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db) {
    if (dx)
        for (int64_t n = 0; n < p->N; n++)
            for (int k = 0; k < p->K; k++) {
                double acc = 0.0;
                for (int m = 0; m < p->M; m++)
                    acc += (double)dy[n * p->M + m] * (double)w[(int64_t)m * p->K + k];
                dx[n * p->K + k] = (float)acc;
            }
    if (dw)
        for (int m = 0; m < p->M; m++)
            for (int k = 0; k < p->K; k++) {
                double acc = 0.0;
                for (int64_t n = 0; n < p->N; n++)
                    acc += (double)dy[n * p->M + m] * (double)x[n * p->K + k];
                dw[(int64_t)m * p->K + k] = (float)acc;
            }
    if (db)
        for (int m = 0; m < p->M; m++) {
            double acc = 0.0;
            for (int64_t n = 0; n < p->N; n++) acc += (double)dy[n * p->M + m];
            db[m] = (float)acc;
        }
}
