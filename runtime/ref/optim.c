/* Optimizer updates, exactly as torch.optim (1.13) defines them for one tensor. */
#include <math.h>

#include "ref_ops.h"

void sn_ref_sgd_update(int64_t n, float lr, float momentum, float weight_decay, int nesterov,
                       float *param, const float *grad, float *buf) {
    for (int64_t i = 0; i < n; i++) {
        float d = grad[i];
        if (weight_decay != 0.0f) d += weight_decay * param[i];
        if (momentum != 0.0f) {
            /* buf starts at zero, so the first step gives buf = d as in PyTorch */
            buf[i] = momentum * buf[i] + d;
            d = nesterov ? d + momentum * buf[i] : buf[i];
        }
        param[i] -= lr * d;
    }
}

void sn_ref_adam_update(int64_t n, float lr, float beta1, float beta2, float eps,
                        float weight_decay, int64_t step, float *param, const float *grad,
                        float *exp_avg, float *exp_avg_sq) {
    double bc1 = 1.0 - pow((double)beta1, (double)step);
    double bc2 = 1.0 - pow((double)beta2, (double)step);
    float step_size = (float)((double)lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i];
        if (weight_decay != 0.0f) g += weight_decay * param[i];
        exp_avg[i] = beta1 * exp_avg[i] + (1.0f - beta1) * g;
        exp_avg_sq[i] = beta2 * exp_avg_sq[i] + (1.0f - beta2) * g * g;
        float denom = sqrtf(exp_avg_sq[i]) / bc2_sqrt + eps;
        param[i] -= step_size * exp_avg[i] / denom;
    }
}
