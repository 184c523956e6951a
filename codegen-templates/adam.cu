// adam.cu: Adam (L2 weight decay added to the gradient, no amsgrad) on one tensor, as
// sn_ref_adam_update (runtime/ref/optim.c): the host computes step_size = lr / (1 -
// beta1^step) and bc2_sqrt = sqrt(1 - beta2^step) in double each step and passes them
// as floats; the rest is float arithmetic in the reference's order:
//   g += wd * p;  m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g * g;
//   p -= step_size * m / (sqrt(v) / bc2_sqrt + eps)
// Slots: KERNEL, NUMEL, BETA1, BETA2, ONE_MINUS_BETA1, ONE_MINUS_BETA2, EPS, WEIGHT_DECAY.

constexpr i64 NUMEL = {{NUMEL}};
constexpr float BETA1 = {{BETA1}}, BETA2 = {{BETA2}};
constexpr float OMB1 = {{ONE_MINUS_BETA1}}, OMB2 = {{ONE_MINUS_BETA2}};
constexpr float EPS = {{EPS}};
constexpr float WEIGHT_DECAY = {{WEIGHT_DECAY}};

extern "C" __global__ void {{KERNEL}}(float *__restrict__ param, const float *__restrict__ grad,
                                      float *__restrict__ exp_avg,
                                      float *__restrict__ exp_avg_sq, float step_size,
                                      float bc2_sqrt) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x) {
        float g = grad[i];
        if (WEIGHT_DECAY != 0.0f) g = __fadd_rn(g, __fmul_rn(WEIGHT_DECAY, param[i]));
        const float m = __fadd_rn(__fmul_rn(BETA1, exp_avg[i]), __fmul_rn(OMB1, g));
        const float v = __fadd_rn(__fmul_rn(BETA2, exp_avg_sq[i]), __fmul_rn(__fmul_rn(OMB2, g), g));
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), bc2_sqrt), EPS);
        param[i] = __fsub_rn(param[i], __fdiv_rn(__fmul_rn(step_size, m), denom));
    }
}
